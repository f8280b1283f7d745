"""Keras 3 optimizers with Keras's exact update rules and defaults.

torch's built-in Adam/RMSprop place epsilon differently (Keras: Adam adds eps to the
uncorrected sqrt(v) with a bias-corrected step size; RMSprop divides by sqrt(v + eps)) and
use other defaults (eps 1e-8 vs 1e-7), which changes training when gradients are small.
Checked against Keras trajectories in tests/fixtures/keras/optimizers.json. An optimizer may
follow a learning-rate schedule (:mod:`.schedules`), asked for the rate before every step, as
Keras asks ``optimizer.learning_rate`` (a schedule) with the step count before the update.
"""

from __future__ import annotations

import ctypes
import math
from pathlib import Path

import torch
from torch.optim import optimizer as torch_optimizer

from .._cc import enabled, load
from ..config import LearningRateScheduleConfig
from ..errors import ConfigError, param_error
from .schedules import LearningRateSchedule, make_schedule

# name → Keras default hyper-parameters (learning_rate first)
DEFAULTS: dict[str, dict[str, float | bool]] = {
    "sgd": {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False},
    "rmsprop": {"learning_rate": 0.001, "rho": 0.9, "momentum": 0.0, "epsilon": 1e-7, "centered": False,
                "legacy": False},
    "adam": {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False},
    "adamw": {"learning_rate": 0.001, "weight_decay": 0.004, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7,
              "amsgrad": False},
    "adagrad": {"learning_rate": 0.001, "initial_accumulator_value": 0.1, "epsilon": 1e-7},
    "adadelta": {"learning_rate": 0.001, "rho": 0.95, "epsilon": 1e-7},
    "nadam": {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
    "adamax": {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
}


def _zeros(state: dict, name: str, p: torch.Tensor) -> torch.Tensor:
    """``state[name]``, created as zeros like ``p`` the first time. (``state.setdefault(name,
    torch.zeros_like(p))`` would build, and throw away, a zero tensor the size of the parameter
    at every step: for a 6.4M-entry embedding, two 25 MB allocations and fills per step.)"""
    t = state.get(name)
    if t is None:
        t = state[name] = torch.zeros_like(p)
    return t


class KerasOptimizer(torch.optim.Optimizer):
    """Base: one step applies Keras's rule to every parameter; ``iterations`` counts steps.
    ``weight_decay`` (any optimizer, as Keras) first does ``w -= w * weight_decay * lr``.

    Args:
        params: the parameters to train.
        schedule: a learning-rate schedule; each step first sets the rate to
            ``schedule(iterations)`` (the steps done before it). Default None: a constant rate.
        **hp: the hyper-parameters by Keras name (learning_rate, ...).
    """

    rule = ""

    def __init__(self, params, schedule: LearningRateSchedule | None = None, **hp):
        hp.setdefault("weight_decay", 0.0)
        super().__init__(params, hp)
        self.iterations = 0
        self.schedule = schedule

    @property
    def learning_rate(self) -> float:
        """Keras's ``optimizer.learning_rate``: the rate of the next step (a schedule's, at the
        current step count)."""
        if self.schedule is not None:
            return self.schedule(self.iterations)
        return self.param_groups[0]["learning_rate"]

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        if self.schedule is not None:
            raise TypeError("This optimizer follows a learning-rate schedule; its rate cannot be set (as in Keras).")
        for group in self.param_groups:
            group["learning_rate"] = float(value)

    def step(self, closure=None):
        """torch's ``Optimizer.step`` (with its profiling wrapper and step hooks): one update."""
        self.apply_gradients()
        return None

    def hook_free(self) -> bool:
        """Whether no step hook (this optimizer's or torch's global ones) is registered: then
        :meth:`apply_gradients` is all :meth:`step` does."""
        return not (self._optimizer_step_pre_hooks or self._optimizer_step_post_hooks
                    or getattr(torch_optimizer, "_global_optimizer_pre_hooks", None)
                    or getattr(torch_optimizer, "_global_optimizer_post_hooks", None))

    @torch.no_grad()
    def apply_gradients(self) -> None:
        """One update from every parameter's ``.grad`` (Keras's name). The training loop calls it
        directly when :meth:`hook_free`: torch's wrapper around ``step`` (a profiler record and
        the hooks) costs as much as the whole update of a small model."""
        if self.schedule is not None:
            rate = self.schedule(self.iterations)
            for group in self.param_groups:
                group["learning_rate"] = rate
        self.iterations += 1
        t = self.iterations
        shared = self._shared(t)
        for group in self.param_groups:
            lr, wd = group["learning_rate"], group["weight_decay"]
            if not wd and type(self)._update_all is not KerasOptimizer._update_all:
                params = [p for p in group["params"] if p.grad is not None]
                if params and self._update_all(params, [p.grad for p in params], [self.state[p] for p in params],
                                               group, t, shared):
                    continue
            for p in group["params"]:
                if p.grad is None:
                    continue
                if wd:
                    p.mul_(1 - wd * lr)
                self._update(p, p.grad, self.state[p], group, t, shared)

    def _shared(self, t: int):
        return None

    def _update(self, p, g, state, group, t, shared):  # pragma: no cover - abstract
        raise NotImplementedError

    def _update_all(self, params, grads, states, group, t, shared) -> bool:
        """The same rule for all of a group's parameters at once with torch's ``_foreach`` ops
        (the same operations in the same order, so the same numbers: one call per operation
        instead of one per operation and parameter, which for small models cost more than the
        arithmetic). False when this optimizer or these options have no such path."""
        return False

    def state_dict(self):
        d = super().state_dict()
        d["iterations"] = self.iterations
        return d

    def load_state_dict(self, state_dict):
        self.iterations = state_dict.pop("iterations", 0)
        super().load_state_dict(state_dict)


class SGD(KerasOptimizer):
    """Keras SGD: ``m = momentum*m - lr*g; w += m`` (nesterov: ``w += momentum*m - lr*g``)."""

    def _update(self, p, g, state, group, t, shared):
        lr, mu = group["learning_rate"], group["momentum"]
        if mu:
            m = _zeros(state, "momentum", p)
            m.mul_(mu).add_(g, alpha=-lr)
            if group["nesterov"]:
                p.add_(m, alpha=mu).add_(g, alpha=-lr)
            else:
                p.add_(m)
        else:
            p.add_(g, alpha=-lr)


class RMSprop(KerasOptimizer):
    """Keras RMSprop: ``v = rho*v + (1-rho)*g²; w -= lr*g/sqrt(v + eps)`` (centered subtracts
    the squared mean gradient; momentum accumulates the increments).

    ``legacy=True`` is tf.keras 2.x's RMSprop (``tf.keras.optimizers.legacy.RMSprop``, the
    default up to TensorFlow 2.10): ``w -= lr*g/(sqrt(v) + eps)``. With small gradients it
    takes much larger steps than Keras 3's rule; notebooks and blogs written before 2023
    (like the IMDB SimpleRNN chapter) were trained with it."""

    def _update(self, p, g, state, group, t, shared):
        lr, rho, eps = group["learning_rate"], group["rho"], group["epsilon"]
        v = _zeros(state, "velocity", p)
        v.mul_(rho).addcmul_(g, g, value=1 - rho)
        if group["centered"]:
            a = _zeros(state, "average_gradient", p)
            a.mul_(rho).add_(g, alpha=1 - rho)
            denom = v - a * a
        else:
            denom = v.clone()
        if group["legacy"]:
            denom.sqrt_().add_(eps)
        else:
            denom.add_(eps).sqrt_()
        inc = g * lr / denom
        if group["momentum"]:
            m = _zeros(state, "momentum", p)
            m.mul_(group["momentum"]).add_(inc)
            p.sub_(m)
        else:
            p.sub_(inc)

    def _update_all(self, params, grads, states, group, t, shared) -> bool:
        if group["centered"] or group["momentum"]:
            return False
        lr, rho, eps = group["learning_rate"], group["rho"], group["epsilon"]
        vs = [_zeros(st, "velocity", p) for p, st in zip(params, states)]
        torch._foreach_mul_(vs, rho)
        torch._foreach_addcmul_(vs, grads, grads, value=1 - rho)
        if group["legacy"]:
            denom = torch._foreach_sqrt(vs)
            torch._foreach_add_(denom, eps)
        else:
            denom = torch._foreach_add(vs, eps)
            torch._foreach_sqrt_(denom)
        inc = torch._foreach_mul(grads, lr)
        torch._foreach_div_(inc, denom)
        torch._foreach_sub_(params, inc)
        return True


FUSED_ADAM_MIN = 65536  # elements; below, torch's _foreach ops (one call for all parameters) cost as little
_adam_lib: dict = {}


def fused_adam_library() -> ctypes.CDLL | None:
    """The one-pass Adam update (``adam.c``), or None: ``RNNLAB_COMPILE=off``, no C compiler,
    or a failed build (then the _foreach path, with the same numbers)."""
    if not enabled():
        _adam_lib["reason"] = "RNNLAB_COMPILE=off"
        return None
    return load(_adam_lib, Path(__file__).with_name("adam.c"), "train", _declare_adam, ("-fno-math-errno",))


def _declare_adam(dll: ctypes.CDLL) -> None:
    f, p = ctypes.c_float, ctypes.c_void_p
    dll.adam_step.argtypes = [p, p, p, p, ctypes.c_long, f, f, f, f, f, ctypes.c_int]
    dll.adam_step.restype = None


def _fusable(p: torch.Tensor, g: torch.Tensor) -> bool:
    """A large dense float32 CPU parameter with a dense contiguous gradient of the same shape."""
    return (p.numel() >= FUSED_ADAM_MIN and p.dtype == torch.float32 and p.device.type == "cpu"
            and p.is_contiguous() and g.dtype == torch.float32 and g.layout == torch.strided
            and g.is_contiguous() and g.shape == p.shape)


def _fused_adam(dll, p, g, m, v, group, alpha) -> None:
    """One Adam step of ``p`` in one pass (adam.c): the _foreach path's operations, in order."""
    dll.adam_step(p.data_ptr(), m.data_ptr(), v.data_ptr(), g.data_ptr(), p.numel(), 1 - group["beta_1"],
                  group["beta_2"], 1 - group["beta_2"], -alpha, group["epsilon"], torch.get_num_threads())


class Adam(KerasOptimizer):
    """Keras Adam: ``w -= lr*sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + eps)``.

    Parameters of at least ``FUSED_ADAM_MIN`` elements (an embedding) are updated by a compiled
    one-pass kernel (``adam.c``: each element read and written once, instead of six passes and
    a temporary), the others by torch's ``_foreach`` ops; both compute the same float32
    operations in the same order (the weights may differ in the last bit: the kernel's sqrt is
    correctly rounded, torch's vectorized one not always). ``RNNLAB_COMPILE=off`` (or no C
    compiler) uses torch for all."""

    def _update(self, p, g, state, group, t, shared):
        b1, b2, eps = group["beta_1"], group["beta_2"], group["epsilon"]
        m = _zeros(state, "m", p)
        v = _zeros(state, "v", p)
        alpha = group["learning_rate"] * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        dll = None if group["amsgrad"] or not _fusable(p, g) else fused_adam_library()
        if dll is not None:
            _fused_adam(dll, p, g, m, v, group, alpha)
            return
        m.lerp_(g, 1 - b1)
        v.mul_(b2).addcmul_(g, g, value=1 - b2)
        if group["amsgrad"]:
            vhat = _zeros(state, "vhat", p)
            torch.maximum(vhat, v, out=vhat)
            v = vhat
        p.addcdiv_(m, v.sqrt().add_(eps), value=-alpha)

    def _update_all(self, params, grads, states, group, t, shared) -> bool:
        if group["amsgrad"] or type(self)._update is not Adam._update:
            return False
        b1, b2, eps = group["beta_1"], group["beta_2"], group["epsilon"]
        alpha = group["learning_rate"] * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        fused = [_fusable(p, g) for p, g in zip(params, grads)]
        dll = fused_adam_library() if any(fused) else None
        if dll is not None:
            for p, g, st, one in zip(params, grads, states, fused):
                if one:
                    _fused_adam(dll, p, g, _zeros(st, "m", p), _zeros(st, "v", p), group, alpha)
            rest = [i for i, one in enumerate(fused) if not one]
            if not rest:
                return True
            params, grads, states = [params[i] for i in rest], [grads[i] for i in rest], [states[i] for i in rest]
        ms = [_zeros(st, "m", p) for p, st in zip(params, states)]
        vs = [_zeros(st, "v", p) for p, st in zip(params, states)]
        torch._foreach_lerp_(ms, grads, 1 - b1)
        torch._foreach_mul_(vs, b2)
        torch._foreach_addcmul_(vs, grads, grads, value=1 - b2)
        denom = torch._foreach_sqrt(vs)
        torch._foreach_add_(denom, eps)
        torch._foreach_addcdiv_(params, ms, denom, value=-alpha)
        return True


class AdamW(Adam):
    """Keras AdamW: decoupled weight decay (default 0.004) then the Adam step."""


class Adagrad(KerasOptimizer):
    """Keras Adagrad: ``acc += g²; w -= lr*g/sqrt(acc + eps)``, acc starting at 0.1."""

    def _update(self, p, g, state, group, t, shared):
        acc = state.get("accumulator")
        if acc is None:
            acc = state["accumulator"] = torch.full_like(p, group["initial_accumulator_value"])
        acc.addcmul_(g, g)
        p.addcdiv_(g, (acc + group["epsilon"]).sqrt_(), value=-group["learning_rate"])


class Adadelta(KerasOptimizer):
    """Keras Adadelta (rho 0.95, epsilon 1e-7, learning_rate 0.001)."""

    def _update(self, p, g, state, group, t, shared):
        rho, eps = group["rho"], group["epsilon"]
        ag = _zeros(state, "accumulated_grad", p)
        ad = _zeros(state, "accumulated_delta", p)
        ag.mul_(rho).addcmul_(g, g, value=1 - rho)
        delta = (ad + eps).sqrt_().div_((ag + eps).sqrt_()).mul_(g)
        ad.mul_(rho).addcmul_(delta, delta, value=1 - rho)
        p.add_(delta, alpha=-group["learning_rate"])


class Nadam(KerasOptimizer):
    """Keras 3 Nadam (momentum schedule ``u_t = b1*(1 - 0.5*0.96^t)``)."""

    def __init__(self, params, **hp):
        super().__init__(params, **hp)
        self.u_product = 1.0

    def _shared(self, t):
        b1 = self.param_groups[0]["beta_1"]
        u_t = b1 * (1.0 - 0.5 * 0.96 ** t)
        u_t1 = b1 * (1.0 - 0.5 * 0.96 ** (t + 1))
        prod_t = self.u_product * u_t
        self.u_product = prod_t
        return u_t, u_t1, prod_t, prod_t * u_t1

    def _update(self, p, g, state, group, t, shared):
        u_t, u_t1, prod_t, prod_t1 = shared
        b1, b2, eps = group["beta_1"], group["beta_2"], group["epsilon"]
        m = _zeros(state, "m", p)
        v = _zeros(state, "v", p)
        m.lerp_(g, 1 - b1)
        v.mul_(b2).addcmul_(g, g, value=1 - b2)
        m_hat = m * (u_t1 / (1 - prod_t1)) + g * ((1 - u_t) / (1 - prod_t))
        v_hat = v / (1 - b2 ** t)
        p.addcdiv_(m_hat, v_hat.sqrt_().add_(eps), value=-group["learning_rate"])

    def state_dict(self):
        d = super().state_dict()
        d["u_product"] = self.u_product
        return d

    def load_state_dict(self, state_dict):
        self.u_product = state_dict.pop("u_product", 1.0)
        super().load_state_dict(state_dict)


class Adamax(KerasOptimizer):
    """Keras Adamax: ``u = max(b2*u, |g|); w -= lr / (1 - b1^t) * m / (u + eps)``."""

    def _update(self, p, g, state, group, t, shared):
        b1, b2, eps = group["beta_1"], group["beta_2"], group["epsilon"]
        m = _zeros(state, "m", p)
        u = _zeros(state, "u", p)
        m.lerp_(g, 1 - b1)
        torch.maximum(u * b2, g.abs(), out=u)
        p.addcdiv_(m, u + eps, value=-group["learning_rate"] / (1 - b1 ** t))


CLASSES = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW, "adagrad": Adagrad,
           "adadelta": Adadelta, "nadam": Nadam, "adamax": Adamax}


def make_optimizer(name: str, params, learning_rate: float | None = None, options: dict | None = None,
                   schedule: LearningRateScheduleConfig | None = None) -> KerasOptimizer:
    """Create a Keras optimizer by name with Keras defaults.

    Args:
        name: the Keras name ('adam', 'rmsprop', ...).
        params: the parameters (those without ``requires_grad`` are left out).
        learning_rate: the rate; default None = the optimizer's Keras default.
        options: other hyper-parameters by their Keras names; default None. Unknown names are
            an error.
        schedule: ``compile.learning_rate_schedule``, started from the rate; default None.

    Returns:
        The optimizer.

    Raises:
        ConfigError: an unknown optimizer or option, or an option of the wrong type.
    """
    if name not in CLASSES:
        raise param_error("compile.optimizer", "one of " + ", ".join(CLASSES), name)
    hp = dict(DEFAULTS[name])
    for key, value in (options or {}).items():
        if key not in hp and key != "weight_decay":
            raise ConfigError(f"Unknown option 'compile.optimizer_options.{key}' for {name}; "
                              f"known: {', '.join(k for k in hp if k != 'learning_rate')}, weight_decay.")
        if key == "learning_rate":
            raise ConfigError("Set the learning rate with compile.learning_rate, not optimizer_options.")
        expected = type(hp.get(key, 0.0))
        if expected is bool and not isinstance(value, bool):
            raise param_error(f"compile.optimizer_options.{key}", "true or false", value)
        if expected is float and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            raise param_error(f"compile.optimizer_options.{key}", "a number >= 0", value)
        hp[key] = value
    if learning_rate is not None:
        hp["learning_rate"] = float(learning_rate)
    params = [p for p in params if p.requires_grad]
    rates = None if schedule is None else make_schedule(schedule, hp["learning_rate"])
    return CLASSES[name](params, schedule=rates, **hp)
