"""botocore event hooks: the limiter before each attempt, a record of each attempt after it,
and the harness policy's decision to retry (which that policy installs: harness/aws/policies).

They hang on botocore's own events (before-send, response-received, needs-retry), so every
HTTP attempt of every client made by the factory is paced and recorded, botocore's own
retries included, and code that drives AWS through the SageMaker SDK is covered too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from botocore.retries import standard
from tenacity import RetryCallState, Retrying, wait_random_exponential

from harness import stopping
from harness.aws.limiter import Limiter
from harness.aws.policies import RetrySettings
from harness.aws.reach import CONNECTION_ERRORS, NO_ANSWER_CODES
from harness.aws.throttling import THROTTLE_CODES, concurrency_refused
from harness.clock import Clock
from harness.timing import INJECTED_HEADER, NOW_HEADER, ORDER_HEADER, SERVED_HEADER

if TYPE_CHECKING:
    from botocore.awsrequest import AWSPreparedRequest, AWSResponse
    from botocore.hooks import BaseEventHooks
    from botocore.model import OperationModel


class EventRecorder(Protocol):
    """Where the hooks write what happened (harness.events.Recorder, or a test's stand-in)."""

    def record(self, kind: str, **fields: Any) -> None: ...


def error_code(parsed_response: dict[str, Any] | None, exception: BaseException | None) -> str | None:
    if exception is not None:
        return type(exception).__name__
    return ((parsed_response or {}).get("Error") or {}).get("Code") or None


class CallHooks:
    def __init__(
        self,
        service: str | None,
        settings: RetrySettings,
        time_scale: float = 1.0,
        recorder: EventRecorder | None = None,
        limiter: Limiter | None = None,
        clock: Clock | None = None,
    ) -> None:
        """service None: hooks for a whole session, the service read from each event's name
        (botocore's hyphenated service id, which is the client name for every service used here)."""
        self.service, self.settings, self.time_scale = service, settings, time_scale
        self.recorder, self.limiter = recorder, limiter
        self.clock = clock or Clock(time_scale)
        self._attempt = threading.local()
        self._retryable = standard.StandardRetryConditions(max_attempts=settings.attempts)
        self._backoff = wait_random_exponential(
            multiplier=settings.base_seconds * time_scale, max=settings.cap_seconds * time_scale
        )
        self._retrying = Retrying(wait=self._backoff)  # what a tenacity retry state belongs to
        self.waits_out_full_quotas = False  # users' code: see _waits_for_a_slot
        self._answered_here = False  # see register

    def register(self, events: BaseEventHooks, transport: Callable[..., Any] | None = None) -> None:
        """Pacing and recording, under every policy. transport: a `before-send` handler that
        answers requests in the calling thread (the simulator in this process,
        harness.sim.inprocess): a worker then keeps its turn while its request is served."""
        events.register("before-send", self.before_send)
        events.register_last("before-send", self.on_the_wire)
        events.register("response-received", self.response_received)
        if transport is not None:
            self._answered_here = True
            events.register_last("before-send", transport)  # after on_the_wire: it sends

    def _names(self, event_name: str) -> tuple[str, str]:
        _, service, operation = event_name.split(".", 2)
        return self.service or service, operation

    def before_send(self, event_name: str, request: AWSPreparedRequest | None = None, **_: Any) -> None:
        service, operation = self._names(event_name)
        context = request.context if request is not None and request.context is not None else {}
        self.attempt_starts(service, operation, context)
        return None  # let botocore send the request

    def on_the_wire(self, request: AWSPreparedRequest | None = None, **_: Any) -> None:
        """The last thing before the request is sent. On virtual time: the instant the simulator
        handles it at, and its place in the order it handles requests in; the next worker runs
        while it is on the wire (`response_received` waits for this one's turn again)."""
        if not self.clock.virtual or request is None:
            return None
        request.headers[NOW_HEADER] = repr(self.clock.now())
        if self._answered_here:
            return None  # served in this thread, in this turn: the order is the turns'
        place = self.clock.request_sent()
        if place is not None:
            request.headers[ORDER_HEADER] = place
        return None

    def attempt_starts(self, service: str, operation: str, context: dict[str, Any]) -> None:
        """Before an attempt is sent: refused once the run stops; paced by the limiter.
        `context` is the call's (kept across its attempts): its first attempt's time goes there."""
        # until this returns nothing is sent: a stop or a limiter timeout raised here is not an
        # attempt AWS saw, though botocore still emits response-received with the exception
        self._attempt.sent = False
        stopping.check("the run is stopping: no new AWS call")
        first = context.setdefault("harness_first_attempt", self.clock.now())
        grant = None
        if self.limiter is not None:
            # No attempt waits for the limiter past the call's deadline (LimiterTimeout instead).
            left = self.settings.deadline_seconds - (self.clock.now() - first)
            grant = self.limiter.wait(service, operation, deadline=self.limiter.clock.now() + left)
        waited = self.clock.wall(grant.waited) if grant is not None else 0.0
        if waited > 0 and self.recorder is not None:
            self.recorder.record("limiter_wait", service=service, operation=operation, duration=waited)
        self._attempt.grant = grant
        self._attempt.waited = waited
        self._attempt.start = self.clock.now()
        self._attempt.sent = True

    def response_received(
        self,
        event_name: str,
        context: dict[str, Any],
        parsed_response: dict[str, Any] | None = None,
        exception: BaseException | None = None,
        response_dict: dict[str, Any] | None = None,
        **_: Any,
    ) -> None:
        self.clock.answer_received()  # virtual time: this worker's turn again
        service, operation = self._names(event_name)
        code = error_code(parsed_response, exception)
        response = response_dict or {}
        stopped = self._wait_out_latency(response.get("headers") or {})
        self.attempt_ended(
            service,
            operation,
            attempt=(context.get("retries") or {}).get("attempt", 1),
            code=code,
            refused=concurrency_refused(code, parsed_response),
            raised=exception is not None,
            status=response.get("status_code"),
            headers=response.get("headers") or {},
        )
        if stopped is not None:
            raise stopped

    def _wait_out_latency(self, headers: Mapping[str, str]) -> stopping.Stopped | None:
        """On virtual time the simulator answers at once and says what latency its profile gave
        the answer: the caller waits it out here, on the run's clock. A stop meanwhile is
        returned, to be raised once the attempt is recorded."""
        injected = headers.get(INJECTED_HEADER) if self.clock.virtual else None
        if not injected:
            return None
        try:
            self.clock.sleep_wall(float(injected) / 1000.0)
        except stopping.Stopped as stop:
            return stop
        return None

    def attempt_ended(
        self,
        service: str,
        operation: str,
        attempt: int,
        code: str | None,
        refused: bool,
        raised: bool,
        status: int | None,
        headers: Mapping[str, str],
    ) -> None:
        """After an attempt: its outcome fed back to the limiter and recorded. `raised`: no
        answer came (a connection error); `refused`: a full concurrency quota said no."""
        if not getattr(self._attempt, "sent", True):
            return  # stopped before it was sent (attempt_starts raised): nothing reached AWS
        now = self.clock.now()
        duration = self.clock.wall(now - getattr(self._attempt, "start", now))
        if raised:
            outcome = "exception"
        elif refused:
            outcome = "error"
        elif code in THROTTLE_CODES:
            outcome = "throttled"
        elif code is not None or (status or 200) >= 400:
            outcome = "error"
        else:
            outcome = "ok"
        grant = getattr(self._attempt, "grant", None)
        if self.limiter is not None and grant is not None and outcome in ("ok", "throttled"):
            self.limiter.feedback(service, operation, outcome == "throttled", sent_at=grant.at)
        if self.recorder is not None:
            extra: dict[str, float] = {}
            injected, served = headers.get(INJECTED_HEADER), headers.get(SERVED_HEADER)
            if injected is not None and served is not None:  # only the simulator says what was AWS's
                extra["injected"], extra["served"] = float(injected) / 1000.0, float(served) / 1000.0
            self.recorder.record(
                "api_attempt",
                service=service,
                operation=operation,
                attempt=attempt,
                outcome=outcome,
                error_code=code,
                duration=duration,
                status=status,
                waited=getattr(self._attempt, "waited", 0.0),
                **extra,
            )

    def needs_retry(
        self,
        attempts: int,
        operation: OperationModel,
        request_dict: dict[str, Any],
        event_name: str,
        response: tuple[AWSResponse, dict[str, Any]] | None = None,
        caught_exception: BaseException | None = None,
        **_: Any,
    ) -> float | None:
        """Return seconds to sleep before the next attempt, or None for no retry."""
        retry = standard.RetryContext(
            attempt_number=attempts,
            operation_model=operation,
            parsed_response=response[1] if response else None,
            http_response=response[0] if response else None,
            caught_exception=caught_exception,
            request_context=request_dict["context"],
        )
        if concurrency_refused(retry.get_error_code(), retry.parsed_response):
            return None
        # AWS (or the simulator) unreachable (a restart, a network blip) is retried outside the
        # attempt budget, for a short while (back_off): a blip is waited out, an outage is said.
        unreachable = isinstance(caught_exception, CONNECTION_ERRORS)
        retryable = unreachable or self._retryable.is_retryable(retry)
        code = retry.get_error_code() or (type(caught_exception).__name__ if caught_exception else None)
        return self.back_off(
            self._names(event_name)[0], operation.name, attempts, request_dict["context"], retryable, code
        )

    def _waits_for_a_slot(self, service: str, operation: str, code: str | None) -> bool:
        """Users' code under the harness policy: a create AWS refused because a concurrency
        quota is full (4 feature groups Creating, say) is tried again until the call's deadline,
        as the built-in pipelines queue for a slot first. botocore never retries it, and code
        that does not expect it (Workbench) fails."""
        if not self.waits_out_full_quotas or self.limiter is None or code != "ResourceLimitExceeded":
            return False
        quota = self.limiter.table.lookup(service, operation)
        return quota is not None and quota.concurrency is not None

    def past_unreachable_budget(self, code: str | None, context: dict[str, Any], wall_sleep: float) -> bool:
        """Would a retry of a call whose endpoint did not answer at all (`code`, an exception's
        name) start, after `wall_sleep`, more than `unreachable_seconds` after its first
        attempt? Then it is not made: the network or the region is wrong, and minutes of
        retries would only hide it."""
        if code not in NO_ANSWER_CODES:
            return False
        first = context.get("harness_first_attempt", self.clock.now())
        return self.clock.wall(self.clock.now() - first) + wall_sleep > self.settings.unreachable_seconds

    def back_off(
        self, service: str, operation: str, attempts: int, context: dict[str, Any], retryable: bool, code: str | None
    ) -> float | None:
        """After a failed attempt that botocore's rules call `retryable`: wait before the next
        one (recorded) and return 0, or None when there is to be no next one (not retryable,
        or it would start past the call's deadline). The wait is on the run's clock, not in
        botocore, so a stop cuts it short."""
        if not retryable and not self._waits_for_a_slot(service, operation, code):
            return None
        state = RetryCallState(self._retrying, fn=None, args=(), kwargs={})
        state.attempt_number = attempts
        sleep = self._backoff(state)
        first = context.get("harness_first_attempt", self.clock.now())
        if self.clock.now() + self.clock.aws(sleep) - first > self.settings.deadline_seconds:
            return None
        if self.past_unreachable_budget(code, context, sleep):
            return None
        if self.recorder is not None:
            self.recorder.record(
                "retry", service=service, operation=operation, attempt=attempts, error_code=code, duration=sleep
            )
        self.clock.sleep_wall(sleep)
        return 0
