"""The run executor: train, score and store one run, a group of seeds, or a grid.

``RunExecutor(context)`` trains with the one fit loop (``train.Trainer`` alone,
``group.GroupTrainer`` for seeds trained as one grouped model), scores a trained model
with ``evaluate.evaluate`` on the test split, and stores the record (its results row,
per-method summaries, history, per-sequence rows) under the run's key. A stored run is
loaded, never trained again; a model trained under another [evaluation] is scored
again from its checkpoint. The context makes the run keys and hands out frozen values
(``runner.values``: RunInputs, RunFacts, Scoring); the executor works from those.
"""
from __future__ import annotations

import time
from collections import Counter

from tqdm.auto import tqdm

from regbench.runner.context import RunContext
from regbench.store.record import RUN_RECORD
from regbench.store.runs import RunKey, atomic_write_csv, note_unreadable, results_frame
from regbench.runner.pace import Pace
from regbench.runner.values import train_group, train_run


def extra_backward_passes(regularizer, lam: float) -> int:
    """Backward passes a training step makes beyond the loss's own: one input-gradient
    pass (kept for double backprop) for an attribution prior with λ > 0, else none
    (the regularizer's kind says)."""
    return regularizer.kind.extra_backward_passes(lam)


class RunExecutor:
    """Trains, scores and stores the runs of one RunContext."""

    def __init__(self, context: RunContext):
        self.context = context   # makes keys and values; read through them only
        self.store = context.store
        self.runs_stored = 0     # runs this executor trained or scored and stored

    def train_one(self, regularizer: str, seed: int, lam: float | None = None,
                  epoch_callback=None, bar=None, data_fraction: float = 1.0,
                  evaluate: bool = True) -> dict:
        """Train and evaluate one (regularizer, λ, seed, share of the training rows), or
        return the stored result. ``evaluate=False`` (λ-search trials) scores nothing:
        the test set and the report's example tracks stay untouched."""
        key = self.context.key(regularizer, seed, lam, data_fraction)
        stored, unreadable = self._stored(key)
        if stored is not None:
            return stored
        return self._train_key(key, epoch_callback, bar, evaluate, unreadable)

    def _stored(self, key: RunKey) -> tuple[dict | None, bool]:
        """(the stored record of ``key`` or None, whether its record is there but cannot
        be read: truncated, corrupt; ``read_record`` notes it, once, and the run is
        trained again, not scored again from its checkpoint: the record held how it was
        trained)."""
        record = self.store.load(key)
        return record, record is None and self.store.record_path(key).is_file()

    def _train_key(self, key: RunKey, epoch_callback=None, bar=None, evaluate: bool = True,
                   unreadable: bool = False) -> dict:
        """``train_one`` of a run not stored (``unreadable``: its record cannot be
        read)."""
        inputs = self.context.run_inputs(key)
        checkpoint = None if unreadable else self.store.trained(key)
        if checkpoint:   # trained before, scored another way: score it
            record = self._score_again(key, inputs.regularizer, checkpoint,
                                       inputs.train_rows, evaluate)
            if record is not None:
                return record

        def on_epoch(epoch, record):
            if bar is not None:
                bar.set_postfix(reg=key.regularizer, seed=key.seed, epoch=epoch,
                                loss=f"{record['train_loss']:.3f}",
                                val=f"{record['val_loss']:.3f}")
            if epoch_callback is not None:
                epoch_callback(epoch, record)

        return self._store_run(key, inputs.regularizer, train_run(inputs, on_epoch),
                               inputs.train_rows, evaluate, settings=inputs.settings)

    def train_seeds(self, regularizer: str, seeds: list[int], data_fraction: float = 1.0,
                    bar=None) -> list[dict]:
        """``train_one`` for each seed, the seeds not yet stored trained together as one
        grouped model (``regbench.training.group``) when there are several and the run can be
        grouped. Returns the records in seed order."""
        ctx = self.context
        keys = {seed: ctx.key(regularizer, seed, data_fraction=data_fraction)
                for seed in seeds}
        stored = {seed: self._stored(keys[seed]) for seed in seeds}
        records = {seed: record for seed, (record, _) in stored.items()}
        unreadable = {seed: bad for seed, (_, bad) in stored.items()}
        todo = [seed for seed in seeds if records[seed] is None
                and (unreadable[seed] or not self.store.trained(keys[seed]))]
        if len(todo) > 1 and ctx.groupable(ctx.regularizer(regularizer)):
            if bar is not None:
                bar.set_postfix(reg=regularizer, seeds=f"{todo[0]}-{todo[-1]} (grouped)")
            members = [ctx.run_inputs(keys[s], models_per_group=len(todo)) for s in todo]
            for seed, inputs, result in zip(todo, members, train_group(members)):
                records[seed] = self._store_run(keys[seed], inputs.regularizer, result,
                                                inputs.train_rows, settings=inputs.settings)
        return [records[seed] or self._train_key(keys[seed], bar=bar,
                                                 unreadable=unreadable[seed])
                for seed in seeds]

    def _score_again(self, key: RunKey, reg, checkpoint, train_rows: int,
                     evaluate: bool) -> dict:
        """The record of a run whose model was trained under another [evaluation]:
        its checkpoint scored the current way, its training facts kept. None when the
        checkpoint cannot be read (``UnreadableCheckpoint``: truncated, corrupt, no
        model_config, weights of another shape): a note, and the run is trained again."""
        from regbench.training.checkpoint import UnreadableCheckpoint
        from regbench.training.train import load_result
        try:
            result = load_result(checkpoint, str(self.context.device))
        except UnreadableCheckpoint as exc:   # one that could run code is refused
            note_unreadable(checkpoint, exc.why)
            return None
        if evaluate:
            tqdm.write(f"scoring {key.regularizer} seed {key.seed} from its stored checkpoint: "
                       "trained earlier (as the paper rule's none, or scored under other "
                       "[evaluation] settings), not trained again")
        return self._store_run(key, reg, result, train_rows, evaluate,
                               settings=self.store.trained_settings(key))

    def _store_run(self, key: RunKey, reg, result, train_rows: int,
                   evaluate: bool = True, settings: dict | None = None) -> dict:
        """The record of a trained run (its row, scored on the test split unless
        ``evaluate`` is off), stored under ``key``. ``settings``: ``run_settings`` of
        its training; None: unknown (a model trained before they were recorded)."""
        store = self.store
        ckpt = store.checkpoint_path(key)
        regularizer, seed = key.regularizer, key.seed
        row = {"regularizer": regularizer, "lambda": key.lam,
               **self.context.choice.row_fields(regularizer), "seed": seed,
               "data_fraction": key.data_fraction, "train_rows": train_rows,
               "status": result.status, "epochs": len(result.history),
               "best_epoch": result.best_epoch, "converged": result.converged,
               "train_seconds": round(result.seconds, 3),
               "steps": result.steps, "step_seconds": result.train_step_seconds,
               "peak_mib": result.peak_step_bytes / 2 ** 20,
               "extra_backward": extra_backward_passes(reg, key.lam),
               "val_loss": result.best_val_loss, "checkpoint": str(ckpt.relative_to(store.out)),
               **(settings or dict.fromkeys(RUN_RECORD.settings()))}
        per_sequence, methods = [], {}
        if result.status == "ok" and evaluate:
            performance, methods, per_sequence, attr, hypothetical = self.evaluate(
                result.model, seed, regularizer, examples=key.data_fraction >= 1)
            row.update(performance)
            if attr is not None:
                names = [r["sequence"] for r in per_sequence if r["method"] == "deep_lift_shap"]
                row["attributions"] = store.save_attributions(
                    key, attr.numpy(), names,
                    hypothetical=None if hypothetical is None else hypothetical.numpy())
        record = {"key": key.__dict__, "row": row, "methods": methods,
                  "history": result.history, "per_sequence": per_sequence}
        store.save(key, record)
        self.runs_stored += 1
        return record

    def evaluate(self, model, seed: int, regularizer: str, examples: bool = True) -> tuple:
        """``evaluate.evaluate`` on the test split, as a record's parts
        (``Evaluation.record_parts``). Keeps the seed-0 example tracks when ``examples``
        (a model trained on all the training rows: the report's tracks are the
        comparison's models, not those of a share run)."""
        scoring = self.context.scoring("test")
        result = scoring.evaluate(model)
        shap = result.attributions.get("deep_lift_shap")
        if shap is not None and seed == 0 and examples:
            k = scoring.settings.n_examples
            mask = None if result.motif_mask is None else result.motif_mask[:k]
            self.store.save_examples(regularizer, result.X[:k].numpy(), shap[:k].numpy(),
                                    mask, result.names[:k])
        return result.record_parts()

    # -- the grid -----------------------------------------------------------------------
    def train_grid(self, grid, fractions: bool = True) -> None:
        """Train (or load) every run of ``grid`` on all the data, then (``fractions``)
        on each data fraction, writing the tables as runs finish (after each run stored
        now, and once at the end: a write of 88 quick runs takes 2.5 s, and a staged run
        loads the earlier stages' runs again)."""
        records, written = [], (self.runs_stored, 0)
        for record in self._train_grid(grid, "seed runs"):
            records.append(record)
            if self.runs_stored != written[0]:
                self.store.write_tables(records)
                written = (self.runs_stored, len(records))
        if written[1] != len(records):
            self.store.write_tables(records)
        if not fractions:
            return
        done = []
        for fraction in self.context.facts().data_fractions:
            # Kept apart, in results_fraction.csv, so no other table mixes them in.
            for record in self._train_grid(grid, f"{fraction:g} of the data", fraction):
                done.append(record)
                atomic_write_csv(results_frame(done), self.store.out / "results_fraction.csv")

    def collect_grid(self, grid) -> int:
        """The tables of a grid that workers trained: every run's stored record, in
        grid order. Returns how many are missing (trained by workers whose folder this
        one cannot see)."""
        ctx, facts = self.context, self.context.facts()
        return self.store.write_grid_tables(
            [(ctx.key(r, s, data_fraction=f).id(), f)
             for f in [1.0, *facts.data_fractions] for r, s in grid],
            stamp=facts.choice.stamp)

    def _train_grid(self, grid, desc: str, data_fraction: float = 1.0):
        """Yield the record of every (regularizer, seed) of ``grid`` as it is trained or
        loaded, on ``data_fraction`` of the training rows, under one progress bar."""
        facts = self.context.facts()
        groups = self.context.seed_grid_groups(grid)
        pace = Pace(Counter(r for r, _ in grid))
        with tqdm(total=len(grid), desc=desc, unit="model", disable=not facts.progress,
                  dynamic_ncols=True) as bar:
            done, tick = 0, time.perf_counter()
            for regularizer, seeds in groups:
                bar.set_postfix(reg=regularizer, seed=seeds[0])
                stored = self.runs_stored
                for record in self.train_seeds(regularizer, seeds, data_fraction, bar=bar):
                    record = facts.choice.stamp(record)
                    now = time.perf_counter()
                    pace.add(record["row"], now - tick if self.runs_stored > stored else None)
                    stored, tick = self.runs_stored, now
                    bar.update()
                    done += 1
                    if not facts.progress:   # a log gets a line per model instead
                        row = record["row"]
                        print(f"{desc}: {done}/{len(grid)} {row['regularizer']} seed "
                              f"{row['seed']} ({row['status']}, best epoch "
                              f"{row['best_epoch']} of {row['epochs']}{pace.line()})",
                              flush=True)
                    yield record


__all__ = ["RunExecutor", "extra_backward_passes"]
