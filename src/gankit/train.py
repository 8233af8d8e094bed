"""Training: the state of the game, one D step, one G step, and `fit`, which reads top to bottom.

The game: D takes `n_critic` steps on a real batch and a detached fake batch, then G takes one step
through a frozen D (D's weights neither change nor collect gradients). Two networks, two Adam
optimizers. All randomness of the loop (data, noise, penalties) comes from one CPU generator that
is saved in checkpoints, so a resumed run equals one that never stopped.
"""

from __future__ import annotations

import copy
import inspect
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from gankit import augment as augment_lib
from gankit import checkpoint
from gankit import device as device_lib
from gankit import run as run_lib
from gankit.config import Config
from gankit.data import VectorData
from gankit.data import build as build_data
from gankit.ema import ema_update
from gankit.errors import GankitError
from gankit.guards import Buffers, StopFlag
from gankit.losses import LOSSES, GANLoss
from gankit.monitor import Monitor
from gankit.nets import DISCRIMINATORS, GENERATORS
from gankit.penalties import PENALTIES
from gankit.sampling import evaluate, latent
from gankit.state_io import (
    check_contents,
    finite,
    load_state,
    roll_back,
    save_checkpoint,
    unlogged,
)
from gankit.stats import JsonLines, Stats

# progress-bar labels of the reported statistics
BAR = {"d_loss": "D loss", "g_loss": "G loss", "d_real": "D(x)", "d_fake": "D(G(z))"}


@dataclass
class GANState:
    G: nn.Module
    D: nn.Module
    G_ema: nn.Module | None
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    rng: torch.Generator  # CPU: data, noise, penalties
    device: torch.device
    data_shift: torch.Tensor  # (dim,): data = model * scale + shift
    data_scale: torch.Tensor
    net_shape: dict  # the data's side of the networks' arguments, saved to rebuild them
    classes: list[str] | None = None  # names of a conditional run's classes
    data_fingerprint: str | None = None  # image data's digest (data.fingerprint), for resumes
    step: int = 0  # completed G steps
    bad_steps: int = 0  # steps in a row skipped for a NaN/Inf loss (saved: a resume counts on)
    rollbacks: int = 0  # returns to a checkpoint since the last good one was saved (saved too)

    @property
    def G_eval(self) -> nn.Module:
        """The generator to sample from: the EMA copy when there is one."""
        return self.G_ema if self.G_ema is not None else self.G


def build_networks(cfg: Config, shape: dict) -> tuple[nn.Module, nn.Module]:
    """G and D for data of `shape` (the data's `net_shape`: dim, or channels and resolution)."""
    nets = []
    for role, registry, c in (("generator", GENERATORS, cfg.generator),
                              ("discriminator", DISCRIMINATORS, cfg.discriminator)):
        factory = registry.get_or_fail(c.net, f"{role}.net")
        unknown = [k for k in shape if k not in inspect.signature(factory).parameters]
        if unknown:
            raise GankitError(f"{role}.net={c.net!r} does not fit this data (it has no "
                              f"{', '.join(unknown)}); use 'mlp' for vectors, 'dcgan' for images")
        try:
            nets.append(factory(**shape, **c.options))
        except GankitError as e:  # name the config key (or section) the net's message is about
            msg, params = str(e), inspect.signature(factory).parameters
            key = msg.split(":", 1)[0]
            raise GankitError(msg if msg.startswith(role) else f"{role}.{msg}" if key in params
                              else f"{role}: {msg}") from None
    return nets[0], nets[1]


def build_state(cfg: Config, data: VectorData, device: torch.device) -> GANState:
    t = cfg.train
    with torch.random.fork_rng(devices=[]):  # seed the initialisation, leave the caller's RNG be
        torch.manual_seed(t.seed)
        G, D = (net.to(device) for net in build_networks(cfg, data.net_shape))
    G_ema = copy.deepcopy(G).requires_grad_(False) if t.ema > 0 else None
    fused = device_lib.fused_adam(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=t.lr_g, betas=(t.beta1, t.beta2), fused=fused)
    opt_d = torch.optim.Adam(D.parameters(), lr=t.lr_d, betas=(t.beta1, t.beta2), fused=fused)
    rng = torch.Generator().manual_seed(t.seed)
    classes = list(data.classes) if data.n_classes else None
    return GANState(G, D, G_ema, opt_g, opt_d, rng, device, data.shift, data.scale,
                    dict(data.net_shape), classes, data.fingerprint())


def _with_noise(x: torch.Tensor, std: float, rng: torch.Generator) -> torch.Tensor:
    """Instance noise (Sønderby et al. 2016): blur both distributions so they overlap."""
    if std <= 0:
        return x
    return x + std * torch.randn(x.shape, generator=rng).to(x.device)


def _probe(logits: torch.Tensor, loss: GANLoss) -> torch.Tensor:
    """What the progress bar calls D(x): a probability, or the raw critic score."""
    return torch.sigmoid(logits).mean() if loss.prob else logits.mean()


def _call(net: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """A net on its input, with the class input when the data is conditional."""
    return net(x) if y is None else net(x, y)


def _d_view(x: torch.Tensor, state: GANState, augment: list, noise_std: float) -> torch.Tensor:
    """What D is shown: DiffAugment and instance noise, the same for real and fake."""
    return _with_noise(augment_lib.apply(x, augment, state.rng), noise_std, state.rng)


def make_fake(state: GANState, batch_size: int, y: torch.Tensor | None) -> torch.Tensor:
    """A batch from G (with its graph, so a G step can reuse it): (batch_size, *sample shape)."""
    return _call(state.G, latent(batch_size, state.G.z_dim, state.rng).to(state.device), y)


def d_step(state: GANState, real: torch.Tensor, y: torch.Tensor | None, cfg: Config,
           noise_std: float, augment: list = (), fake: torch.Tensor | None = None,
           penalise: bool = True) -> dict | None:
    """One D update on a real batch and a detached fake batch; None if the loss is not finite.

    Conditional data: the fakes are drawn for the real batch's classes, so both halves of the
    batch (and any penalty's interpolates) share one label per row. `fake` is a batch already
    drawn for those classes (train.share_fake); otherwise one is drawn here. `penalise` False
    leaves out loss.penalty (a lazily regularised run's other steps).
    """
    loss, lc = LOSSES[cfg.loss.name], cfg.loss
    D = state.D
    if fake is None:
        with torch.no_grad():
            fake = make_fake(state, real.shape[0], y)
    fake = fake.detach()
    real, fake = _d_view(real, state, augment, noise_std), _d_view(fake, state, augment, noise_std)
    real_logits, fake_logits = _call(D, real, y), _call(D, fake, y)
    d_loss = loss.d(real_logits, fake_logits, 1.0 - lc.label_smoothing)
    penalty = PENALTIES[lc.penalty if penalise else "none"](D, real, fake, state.rng, y)
    total = d_loss + lc.penalty_weight * lc.penalty_every * penalty
    if not torch.isfinite(total):
        return None
    state.opt_d.zero_grad(set_to_none=True)
    total.backward()
    state.opt_d.step()
    if lc.clip > 0:  # WGAN weight clipping keeps the critic (roughly) Lipschitz
        with torch.no_grad():
            for p in D.parameters():
                p.clamp_(-lc.clip, lc.clip)
    out = {"d_loss": d_loss.detach(), "d_real": _probe(real_logits.detach(), loss),
           "d_fake": _probe(fake_logits.detach(), loss)}
    if penalise:  # a lazy run's skipped steps would pull the logged mean towards 0
        out["penalty"] = penalty.detach()
    if loss.boundary is not None:  # share of real and fake samples D classifies correctly
        out["d_acc"] = ((real_logits.detach() > loss.boundary).float().mean()
                        + (fake_logits.detach() < loss.boundary).float().mean()) / 2
    return out


def g_step(state: GANState, y: torch.Tensor | None, batch_size: int, cfg: Config,
           noise_std: float, augment: list = (), fake: torch.Tensor | None = None) -> dict | None:
    """One G update through a frozen D, for classes `y` (or None); None if the loss is not finite.

    `fake` (train.share_fake) is the last D step's batch, still attached to G's graph: the G step
    then reuses it instead of running G again, as in PyTorch's DCGAN example.

    D is left exactly as it was: no weight changes, no gradients, and its buffers (BatchNorm
    statistics, spectral-norm vectors), which a forward pass in train mode updates, are restored.
    """
    loss = LOSSES[cfg.loss.name]
    G, D = state.G, state.D
    buffers = Buffers(D)
    D.requires_grad_(False)
    try:
        fake = make_fake(state, batch_size, y) if fake is None else fake
        fake_logits = _call(D, _d_view(fake, state, augment, noise_std), y)
        g_loss = loss.g(fake_logits)
        if not torch.isfinite(g_loss):
            return None
        state.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
    finally:
        D.requires_grad_(True)
        buffers.restore()
    grads = [p.grad for p in G.parameters() if p.grad is not None]
    grad_norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    state.opt_g.step()
    return {"g_loss": g_loss.detach(), "g_grad_norm": grad_norm,
            "d_gen": _probe(fake_logits.detach(), loss)}


def _to(y: torch.Tensor | None, device: torch.device) -> torch.Tensor | None:
    return None if y is None else y.to(device)


# --- the loop ----------------------------------------------------------------------------------


def fit(cfg: Config, run_dir: str | Path, *, resume: bool = False, until: int | None = None,
        progress: bool = True, callbacks: Sequence[Callable[[GANState, dict], None]] = ()
        ) -> GANState:
    """Train per `cfg` into `run_dir`; with `resume`, continue its newest checkpoint exactly.

    `until` stops (with a checkpoint) after that many G steps, to be resumed later;
    `train.max_minutes` stops the same way once this call has trained that long (a resume gets a
    fresh budget). Schedules tied to `train.steps` (lr_decay, instance_noise) are not rescaled.
    Each of `callbacks` is called as `callback(state, record)` with every record written to
    metrics.jsonl (a live plot, another logger); it should read the state, not change it.
    """
    t, run_dir = cfg.train, Path(run_dir)
    from gankit import viz  # matplotlib is imported only when a run starts

    # Build the data and the two players (bad options fail here, before the run folder exists).
    device = device_lib.resolve(t.device)
    data = build_data(cfg.data.kind, cfg.data.options)
    if not resume and isinstance(data, VectorData):  # a run begun with it may finish as it was
        data.check_output(cfg.generator.options.get("out"))
    state = build_state(cfg, data, device)
    run_lib.prepare(run_dir, cfg, resume)
    log = JsonLines(run_dir / "metrics.jsonl")
    if getattr(data, "skipped", None):  # unreadable image files: named, never silently lost
        (run_dir / "skipped_files.txt").write_text("\n".join(data.skipped) + "\n")
        print(f"gankit: skipped {len(data.skipped)} unreadable files, listed in "
              f"{run_dir / 'skipped_files.txt'}", file=sys.stderr)
    augment = augment_lib.policy(t.augment)
    monitor = Monitor(data, cfg.loss.name)
    stats, skipped, rolled_back, started = Stats(), 0, None, time.time()
    if resume:
        tensors, meta = checkpoint.load(run_dir / "checkpoints")
        check_contents(tensors, meta, str(run_dir / "checkpoints"))
        run_lib.check_resume(run_dir, meta, cfg, state.classes, state.data_fingerprint)
        load_state(state, tensors, meta, str(run_dir / "checkpoints"))
        sums, skipped, rolled_back = unlogged(meta, str(run_dir / "checkpoints"))
        stats.restore(sums, str(run_dir / "checkpoints"))
        data.check_map(tensors["data.shift"], tensors["data.scale"], str(run_dir))
        state.data_shift, state.data_scale = data.shift, data.scale  # as check_map settled it
        run_lib.record_config(run_dir, cfg)  # `gankit train --resume` continues from here
        log.truncate_after(state.step)
        monitor.replay(log.read())
        viz.drop_stop_pictures(run_dir, state.step, t.picture_every, t.steps)
    end = min(t.steps, until) if until is not None else t.steps
    buffers = Buffers(state.G, state.D)
    bar = tqdm(total=t.steps, initial=state.step, disable=not progress, dynamic_ncols=True,
               desc=cfg.data.kind)

    with StopFlag() as stop, bar:
        out_of_time = False
        while state.step < end and not stop.set and not out_of_time:
            step = state.step
            noise_std = t.instance_noise * (1 - step / t.steps)
            if t.lr_decay == "linear":  # a pure function of the step, so resume needs no state
                for opt, lr in ((state.opt_g, t.lr_g), (state.opt_d, t.lr_d)):
                    for group in opt.param_groups:
                        group["lr"] = lr * (1 - step / t.steps)

            # Train D: n_critic steps (plus the pretraining steps before the first G step).
            # An update whose loss is NaN/Inf is skipped: no optimizer step, and the batch-norm
            # statistics its forward passes changed are put back; the rest of the step with it.
            ok, fake, n_d = True, None, t.n_critic + (t.d_pretrain if step == 0 else 0)
            penalise = step % cfg.loss.penalty_every == 0  # lazy regularisation
            for i in range(n_d):
                buffers.take()
                real, y = data.batch(t.batch_size, state.rng)
                real, y = real.to(device), _to(y, device)
                if t.share_fake and i == n_d - 1:  # the G step below reuses this batch
                    fake = make_fake(state, t.batch_size, y)
                out = d_step(state, real, y, cfg, noise_std, augment, fake, penalise)
                if out is None:  # no further D steps on top of a failed one
                    ok = False
                    buffers.restore()
                    break
                for k, v in out.items():
                    stats.report(k, v)

            # Train G through the frozen D (not against a D whose own step just failed).
            if fake is None:
                y = _to(data.fake_labels(t.batch_size, state.rng), device)
            if ok:
                buffers.take()
                out = g_step(state, y, t.batch_size, cfg, noise_std, augment, fake)
                if out is None:
                    ok = False
                    buffers.restore()
                for k, v in (out or {}).items():
                    stats.report(k, v)

            # Update G_ema.
            if state.G_ema is not None and ok:
                ema_update(state.G_ema, state.G, t.ema)

            # A skipped update is counted and reported; a run whose losses stay NaN/Inf, or
            # whose weights have become so (checked where a checkpoint falls due), goes back to
            # its last good checkpoint (max_rollbacks times), then stops.
            state.bad_steps = 0 if ok else state.bad_steps + 1
            skipped += not ok
            periodic = (step + 1) % t.checkpoint_every == 0 or step + 1 == t.steps
            failure = (f"the loss was NaN/Inf for {state.bad_steps} steps in a row"
                       if state.bad_steps >= t.max_bad_steps else "the weights became NaN/Inf"
                       if periodic and not finite(state, cfg) else None)
            if failure:
                back = roll_back(state, cfg, run_dir, step, failure)
                bar.write(f"gankit: warning at step {step}: {failure}; went back to the "
                          f"checkpoint of step {back} (return {state.rollbacks} of at most "
                          f"{t.max_rollbacks}) to go on with other batches", file=sys.stderr)
                # metrics.jsonl follows the run's course from there; the next record counts
                # every step skipped since, also those a dropped record had counted
                skipped += sum(r["skipped"] for r in log.read()
                               if r["step"] > back and isinstance(r.get("skipped"), int))
                log.truncate_after(back)
                monitor.replay(log.read())
                stats, rolled_back = Stats(), step
                bar.n = back
                bar.refresh()
                continue
            state.step = step + 1
            bar.update(1)

            # Log, evaluate, draw, checkpoint.
            out_of_time = t.max_minutes > 0 and time.time() - started >= 60 * t.max_minutes
            done = state.step == end or stop.set or out_of_time
            due_eval = t.eval_every and (state.step % t.eval_every == 0 or state.step == t.steps)
            due_check = (t.monitor_every and state.step % t.monitor_every == 0
                         and state.step >= t.monitor_after)
            regular = (state.step % t.log_every == 0 or state.step == t.steps or due_eval
                       or due_check)
            # A stop's record shows the window so far; the checkpoint keeps the window's sums,
            # and the resume replaces the record with one over the whole window.
            pending = None if regular else {"stats": stats.pending(), "skipped": skipped,
                                            "rolled_back_from": rolled_back}
            if regular or done:
                record = {"step": state.step, **stats.flush(), "time": time.time() - started}
                if not regular:
                    record["stopped"] = True
                if skipped:  # steps skipped since the last record
                    record["skipped"] = skipped
                    bar.write(f"gankit: warning at step {state.step}: {skipped} step(s) since the "
                              "last record were skipped because a loss was NaN/Inf; if this "
                              "repeats, try lower learning rates or a gradient penalty",
                              file=sys.stderr)
                    skipped = 0
                if rolled_back is not None:  # the step whose failure sent the run back
                    record["rolled_back_from"], rolled_back = rolled_back, None
                if due_eval:
                    scores = evaluate(state.G_eval, data)
                    record |= {f"eval/{k}": v for k, v in scores.items()}
                if due_check:  # warn about collapse and vanishing gradients, in plain words
                    alarms = (monitor.stats_checks(record)
                              + monitor.sample_checks(state.G_eval, data.to_data))
                    for alarm in alarms:
                        bar.write(f"gankit: warning at step {state.step}: {alarm['message']}",
                                  file=sys.stderr)
                    record["alarms"] = alarms
                monitor.observe(record)
                log.append(record)
                for callback in callbacks:
                    callback(state, record)
                bar.set_postfix({label: f"{record[k]:.3g}" for k, label in BAR.items()
                                 if k in record})
            if (t.picture_every and state.step % t.picture_every == 0) or done:
                viz.save_pictures(state, data, cfg, run_dir,
                                  final=state.step == t.steps or out_of_time)
            if periodic and state.bad_steps == 0:
                state.rollbacks = 0  # a good checkpoint past the trouble: returns count afresh
            if periodic or ((done or stop.set) and finite(state, cfg)):  # Ctrl-C meanwhile
                save_checkpoint(state, cfg, run_dir, pending, periodic)
            elif done or stop.set:  # a resume replays from the last checkpoint, going back as here
                last = checkpoint.list_steps(run_dir / "checkpoints")
                bar.write(f"gankit: warning: stopped at step {state.step} with NaN/Inf weights, "
                          "so no checkpoint was written; " + (
                              f"a resume continues from step {last[-1]}" if last else
                              "there is no checkpoint to resume from"), file=sys.stderr)
    return state
