//! Waiting for an answer that only the main thread can deliver, whichever thread waits.
//!
//! AuthenticationServices starts a request and calls its delegate on the **main thread**, through
//! the main run loop. Microsoft's own runtimes make a console program work by letting the caller
//! block the main thread while the library runs that loop itself: pymsalruntime's
//! `MSALRuntimeMacCallbackEvent.wait()` is `MSALRUNTIME_runloop_run()`, and MSAL.NET's
//! `MacMainThreadScheduler` (with PR #5966, `CFRunLoopRunInMode`) does the same for .NET. This
//! module is that waiting logic, kept free of any OS call so it is tested on every platform:
//!
//! - **on the main thread** the request is started inline, and while no answer has arrived the
//!   future runs the main run loop for one short slice ([`MainLoop::run_slice`], at most
//!   [`WaitPolicy::MAX_SLICE`]) per poll, then wakes itself. A `#[tokio::main]` program (either
//!   flavour) and a current-thread runtime's `block_on` therefore keep working unchanged: between
//!   slices the runtime runs its other tasks.
//! - **off the main thread** the request is posted to the main queue, exactly as before, but if
//!   the main thread has not picked it up within [`WaitPolicy::main_queue_deadline`] (about 2 s),
//!   the call fails with [`BrokerStatus::ApiContractViolation`] and a message that says what to
//!   change, instead of waiting for a minute (or for ever).
//! - every request has a timeout, and a request that times out or whose future is dropped is
//!   **cancelled** on the main thread (`-[ASAuthorizationController cancel]` in the shim).
//!
//! The macOS shim implements [`MainLoop`] with `NSRunLoop`/`dispatch`; the tests below use a fake.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::broker::{BrokerError, BrokerPlatform, BrokerStatus};

/// The main thread's run loop, as the waiting logic needs it: the seam between
/// [`MainThreadCall`] and the OS.
pub trait MainLoop: Send + Sync + 'static {
    /// Whether the calling thread is the process's main thread.
    fn is_main_thread(&self) -> bool;

    /// Services the main run loop (its sources, timers and the main dispatch queue) for at most
    /// `max`, returning earlier when something was handled. Called on the main thread only.
    fn run_slice(&self, max: Duration);

    /// Queues `job` to run on the main thread (the main dispatch queue). It runs only when the
    /// main thread services its run loop or queue.
    fn post_to_main(&self, job: Box<dyn FnOnce() + Send>);

    /// The current time, for the deadlines checked on the main thread (a fake clock in tests).
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// How long a [`MainThreadCall`] waits, and in which steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitPolicy {
    /// The longest single run-loop slice on the main thread (at most [`Self::MAX_SLICE`]).
    pub slice: Duration,
    /// Off the main thread: how long the main thread may take to pick the request up from the
    /// main queue before the call fails with `ApiContractViolation`.
    pub main_queue_deadline: Duration,
    /// How long the whole request may take before it is cancelled; `None` waits for ever.
    pub timeout: Option<Duration>,
    /// Whether the request shows UI (a timed-out sign-in is reported as cancelled by the app,
    /// a timed-out silent request as transient).
    pub interactive: bool,
}

impl WaitPolicy {
    /// The longest run-loop slice: short enough that a current-thread runtime stays responsive.
    pub const MAX_SLICE: Duration = Duration::from_millis(50);
    /// How long the main thread may take to pick a request up from the main queue.
    pub const MAIN_QUEUE_DEADLINE: Duration = Duration::from_secs(2);
    /// The timeout of a request without UI (accounts, silent token, sign-out).
    pub const SILENT_TIMEOUT: Duration = Duration::from_secs(60);
    /// The timeout of an interactive sign-in: generous, the user may need MFA or a password reset.
    pub const INTERACTIVE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

    /// The policy of a request without UI.
    pub fn silent() -> Self {
        Self {
            slice: Self::MAX_SLICE,
            main_queue_deadline: Self::MAIN_QUEUE_DEADLINE,
            timeout: Some(Self::SILENT_TIMEOUT),
            interactive: false,
        }
    }

    /// The policy of an interactive sign-in.
    pub fn interactive() -> Self {
        Self {
            timeout: Some(Self::INTERACTIVE_TIMEOUT),
            interactive: true,
            ..Self::silent()
        }
    }

    fn slice(&self) -> Duration {
        self.slice.min(Self::MAX_SLICE)
    }
}

/// One request that must be started (and cancelled) on the main thread.
pub struct MainThreadJob<T> {
    /// What the request is (the operation name, for messages).
    pub operation: &'static str,
    /// Starts the request; runs on the main thread. The request answers through the sender.
    pub start: Box<dyn FnOnce(oneshot::Sender<T>) + Send>,
    /// Cancels the started request; runs on the main thread, at most once, and only after
    /// `start` ran.
    pub cancel: Box<dyn FnOnce() + Send>,
}

impl<T> std::fmt::Debug for MainThreadJob<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MainThreadJob")
            .field("operation", &self.operation)
            .finish_non_exhaustive()
    }
}

/// Where the request is (shared with the job queued on the main thread).
const QUEUED: u8 = 0;
const STARTED: u8 = 1;
const ABANDONED: u8 = 2;

type Cancel = Box<dyn FnOnce() + Send>;

struct Waiting<T> {
    answer: oneshot::Receiver<T>,
    cancel: Option<Cancel>,
    start_state: Arc<AtomicU8>,
    started_at: Instant,
    queue_deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    timeout: Option<Pin<Box<tokio::time::Sleep>>>,
}

enum Stage<T> {
    NotStarted(MainThreadJob<T>),
    Waiting(Waiting<T>),
    Finished,
}

/// The future of a [`MainThreadJob`]: starts it on the main thread and waits for its answer, as
/// the [module documentation](self) describes. Dropping it before the answer cancels the request.
pub struct MainThreadCall<T> {
    main: Arc<dyn MainLoop>,
    policy: WaitPolicy,
    operation: &'static str,
    stage: Stage<T>,
}

impl<T> std::fmt::Debug for MainThreadCall<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MainThreadCall")
            .field("operation", &self.operation)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> MainThreadCall<T> {
    /// A call that starts `job` when first polled.
    pub fn new(main: Arc<dyn MainLoop>, policy: WaitPolicy, job: MainThreadJob<T>) -> Self {
        Self {
            main,
            policy,
            operation: job.operation,
            stage: Stage::NotStarted(job),
        }
    }

    /// Starts the job: inline on the main thread, else through the main queue.
    fn start(&mut self, job: MainThreadJob<T>) -> Waiting<T> {
        let (sender, answer) = oneshot::channel();
        let start = job.start;
        let start_state = if self.main.is_main_thread() {
            start(sender);
            Arc::new(AtomicU8::new(STARTED))
        } else {
            let state = Arc::new(AtomicU8::new(QUEUED));
            let queued = state.clone();
            self.main.post_to_main(Box::new(move || {
                // A call that gave up waiting for the main queue never starts its request.
                if queued
                    .compare_exchange(QUEUED, STARTED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    start(sender);
                }
            }));
            state
        };
        Waiting {
            answer,
            cancel: Some(job.cancel),
            start_state,
            started_at: self.main.now(),
            queue_deadline: None,
            timeout: None,
        }
    }

    fn error(&self, status: BrokerStatus, context: String) -> BrokerError {
        BrokerError::new(BrokerPlatform::MacOs, status, context)
    }

    fn ended(&self) -> BrokerError {
        self.error(
            BrokerStatus::Unexpected,
            format!(
                "the SSO extension's `{}` request ended without an answer",
                self.operation
            ),
        )
    }

    fn timed_out(&self, on_main_thread: bool) -> BrokerError {
        let waited = self.policy.timeout.unwrap_or_default().as_secs();
        if self.policy.interactive {
            self.error(
                BrokerStatus::ApplicationCanceled,
                format!(
                    "the sign-in through the SSO extension did not finish within {waited} s and \
                     was cancelled; call acquire_token_interactive again to retry"
                ),
            )
        } else if on_main_thread {
            self.error(
                BrokerStatus::TransientError,
                format!(
                    "no answer from the SSO extension to `{}` within {waited} s; the request was \
                     cancelled. Retry later; if it persists, check that Company Portal is up to \
                     date and its SSO extension profile is installed",
                    self.operation
                ),
            )
        } else {
            self.error(
                BrokerStatus::TransientError,
                format!(
                    "no answer from the SSO extension to `{}` within {waited} s; the request was \
                     cancelled. The main thread picked the request up but then stopped servicing \
                     its run loop: keep it in CFRunLoopRun() or NSApplication.run, or await \
                     entra-msal calls on the main thread itself (e.g. in #[tokio::main])",
                    self.operation
                ),
            )
        }
    }

    fn main_queue_not_serviced(&self) -> BrokerError {
        self.error(
            BrokerStatus::ApiContractViolation,
            format!(
                "the macOS broker was called off the main thread, and the main thread did not \
                 pick the `{}` request up from the main dispatch queue within {} ms: it is \
                 blocked (for example in a runtime's block_on or a thread join). Either await \
                 entra-msal calls on the main thread itself (a plain #[tokio::main] does), or \
                 keep the main thread in its run loop with CFRunLoopRun() (a GUI app's \
                 NSApplication.run does this) while other threads call the library",
                self.operation,
                self.policy.main_queue_deadline.as_millis()
            ),
        )
    }

    fn cancel(&mut self) {
        if let Stage::Waiting(waiting) = &mut self.stage {
            cancel_started(self.main.as_ref(), waiting);
        }
    }

    fn finish(&mut self, outcome: Result<T, BrokerError>) -> Poll<Result<T, BrokerError>> {
        self.stage = Stage::Finished;
        Poll::Ready(outcome)
    }

    fn take_answer(&mut self) -> Option<Result<T, BrokerError>> {
        let Stage::Waiting(waiting) = &mut self.stage else {
            return None;
        };
        match waiting.answer.try_recv() {
            Ok(answer) => Some(Ok(answer)),
            Err(oneshot::error::TryRecvError::Closed) => Some(Err(self.ended())),
            Err(oneshot::error::TryRecvError::Empty) => None,
        }
    }

    /// One poll on the main thread: answer, timeout, or one run-loop slice.
    fn poll_on_main(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, BrokerError>> {
        let Stage::Waiting(waiting) = &self.stage else {
            return Poll::Ready(Err(self.ended()));
        };
        let elapsed = self
            .main
            .now()
            .saturating_duration_since(waiting.started_at);
        let mut slice = self.policy.slice();
        if let Some(timeout) = self.policy.timeout {
            if elapsed >= timeout {
                self.cancel();
                let e = self.timed_out(true);
                return self.finish(Err(e));
            }
            slice = slice.min(timeout - elapsed);
        }
        self.main.run_slice(slice);
        if let Some(outcome) = self.take_answer() {
            return self.finish(outcome);
        }
        // Poll again right away: the runtime runs its other tasks in between.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// One poll off the main thread: answer, main queue not serviced, timeout, or wait.
    fn poll_off_main(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, BrokerError>> {
        let policy = self.policy;
        let Stage::Waiting(waiting) = &mut self.stage else {
            return Poll::Ready(Err(self.ended()));
        };
        match Pin::new(&mut waiting.answer).poll(cx) {
            Poll::Ready(Ok(answer)) => return self.finish(Ok(answer)),
            Poll::Ready(Err(_)) => {
                let e = self.ended();
                return self.finish(Err(e));
            }
            Poll::Pending => {}
        }
        if waiting.start_state.load(Ordering::Acquire) == QUEUED {
            let deadline = waiting
                .queue_deadline
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(policy.main_queue_deadline)));
            if deadline.as_mut().poll(cx).is_ready()
                && waiting
                    .start_state
                    .compare_exchange(QUEUED, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            {
                let e = self.main_queue_not_serviced();
                return self.finish(Err(e));
            }
        }
        if let Some(timeout) = policy.timeout {
            let timer = waiting
                .timeout
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
            if timer.as_mut().poll(cx).is_ready() {
                self.cancel();
                let e = self.timed_out(false);
                return self.finish(Err(e));
            }
        }
        Poll::Pending
    }
}

impl<T: Send + 'static> Future for MainThreadCall<T> {
    type Output = Result<T, BrokerError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if matches!(this.stage, Stage::NotStarted(_))
            && let Stage::NotStarted(job) = std::mem::replace(&mut this.stage, Stage::Finished)
        {
            let waiting = this.start(job);
            this.stage = Stage::Waiting(waiting);
        }
        if matches!(this.stage, Stage::Finished) {
            return Poll::Ready(Err(this.error(
                BrokerStatus::ApiContractViolation,
                format!(
                    "the `{}` broker call was polled after it finished",
                    this.operation
                ),
            )));
        }
        if let Some(outcome) = this.take_answer() {
            return this.finish(outcome);
        }
        if this.main.is_main_thread() {
            this.poll_on_main(cx)
        } else {
            this.poll_off_main(cx)
        }
    }
}

impl<T> Drop for MainThreadCall<T> {
    fn drop(&mut self) {
        if let Stage::Waiting(waiting) = &mut self.stage {
            cancel_started(self.main.as_ref(), waiting);
        }
    }
}

/// Cancels a request that has not answered: a request still in the main queue is marked so it
/// never starts; a started one is cancelled on the main thread (inline when already there).
fn cancel_started<T>(main: &dyn MainLoop, waiting: &mut Waiting<T>) {
    if waiting
        .start_state
        .compare_exchange(QUEUED, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
    {
        return;
    }
    if let Some(cancel) = waiting.cancel.take() {
        if main.is_main_thread() {
            cancel();
        } else {
            main.post_to_main(cancel);
        }
    }
}

#[cfg(test)]
mod tests {
    //! The waiting logic against a fake main loop. The behaviour it stands in for: pymsalruntime's
    //! `MSALRuntimeMacCallbackEvent` (`wait()` = `MSALRUNTIME_runloop_run()`, `set()` =
    //! `MSALRUNTIME_runloop_stop()`), MSAL.NET's `MacMainThreadScheduler` with PR #5966
    //! (`CFRunLoopRunInMode` slices instead of `Thread.Sleep`), and artifacts-credprovider's
    //! `MsalBrokerInteractiveTokenProvider` timeout that stops the main loop.

    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::AtomicUsize;

    type Hook = Box<dyn FnMut(usize) + Send>;

    /// A main loop whose clock moves only when a slice runs.
    struct FakeLoop {
        main: bool,
        services_queue: bool,
        base: Instant,
        elapsed: Mutex<Duration>,
        slices: Mutex<Vec<Duration>>,
        on_slice: Mutex<Option<Hook>>,
        queued: Mutex<Vec<Box<dyn FnOnce() + Send>>>,
    }

    impl FakeLoop {
        fn new(main: bool, services_queue: bool) -> Arc<Self> {
            Arc::new(Self {
                main,
                services_queue,
                base: Instant::now(),
                elapsed: Mutex::new(Duration::ZERO),
                slices: Mutex::new(Vec::new()),
                on_slice: Mutex::new(None),
                queued: Mutex::new(Vec::new()),
            })
        }

        fn on_slice(&self, hook: impl FnMut(usize) + Send + 'static) {
            *self.on_slice.lock().unwrap() = Some(Box::new(hook));
        }

        fn slices(&self) -> Vec<Duration> {
            self.slices.lock().unwrap().clone()
        }

        /// Runs what was queued for the main thread (as a late main thread would).
        fn drain_queue(&self) {
            let jobs: Vec<_> = self.queued.lock().unwrap().drain(..).collect();
            for job in jobs {
                job();
            }
        }
    }

    impl MainLoop for FakeLoop {
        fn is_main_thread(&self) -> bool {
            self.main
        }

        fn run_slice(&self, max: Duration) {
            let n = {
                let mut slices = self.slices.lock().unwrap();
                slices.push(max);
                slices.len()
            };
            *self.elapsed.lock().unwrap() += max;
            // A slice blocks the thread for a moment, as the real one does.
            std::thread::sleep(Duration::from_millis(1));
            // A slice services the main queue, as CFRunLoopRunInMode does on the main thread.
            self.drain_queue();
            if let Some(hook) = self.on_slice.lock().unwrap().as_mut() {
                hook(n);
            }
        }

        fn post_to_main(&self, job: Box<dyn FnOnce() + Send>) {
            if self.services_queue {
                std::thread::spawn(job);
            } else {
                self.queued.lock().unwrap().push(job);
            }
        }

        fn now(&self) -> Instant {
            self.base + *self.elapsed.lock().unwrap()
        }
    }

    /// A fake SSO request: counts starts and cancels, keeps its reply channel.
    #[derive(Default)]
    struct FakeRequest {
        reply: Mutex<Option<oneshot::Sender<u32>>>,
        started: AtomicUsize,
        cancelled: AtomicUsize,
    }

    impl FakeRequest {
        fn answer(&self, value: u32) {
            if let Some(reply) = self.reply.lock().unwrap().take() {
                let _ = reply.send(value);
            }
        }

        fn started(&self) -> usize {
            self.started.load(Ordering::SeqCst)
        }

        fn cancelled(&self) -> usize {
            self.cancelled.load(Ordering::SeqCst)
        }
    }

    fn job(request: &Arc<FakeRequest>, answer_at_start: Option<u32>) -> MainThreadJob<u32> {
        let started = request.clone();
        let cancelled = request.clone();
        MainThreadJob {
            operation: "refresh",
            start: Box::new(move |reply| {
                started.started.fetch_add(1, Ordering::SeqCst);
                match answer_at_start {
                    Some(value) => {
                        let _ = reply.send(value);
                    }
                    None => *started.reply.lock().unwrap() = Some(reply),
                }
            }),
            cancel: Box::new(move || {
                cancelled.cancelled.fetch_add(1, Ordering::SeqCst);
                // -[ASAuthorizationController cancel] makes the delegate answer "canceled".
                cancelled.reply.lock().unwrap().take();
            }),
        }
    }

    fn call(
        main: &Arc<FakeLoop>,
        policy: WaitPolicy,
        job: MainThreadJob<u32>,
    ) -> MainThreadCall<u32> {
        let main: Arc<dyn MainLoop> = main.clone();
        MainThreadCall::new(main, policy, job)
    }

    fn current_thread() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn multi_thread() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn on_the_main_thread_an_answer_before_the_first_slice_needs_no_slice() {
        let main = FakeLoop::new(true, false);
        let request = Arc::new(FakeRequest::default());
        let answer =
            current_thread().block_on(call(&main, WaitPolicy::silent(), job(&request, Some(7))));
        assert_eq!(answer.unwrap(), 7);
        assert_eq!(request.started(), 1);
        assert!(main.slices().is_empty());
        assert_eq!(request.cancelled(), 0);
    }

    #[test]
    fn on_the_main_thread_the_loop_runs_in_slices_until_the_answer_and_other_tasks_keep_running() {
        for runtime in [current_thread(), multi_thread()] {
            let main = FakeLoop::new(true, false);
            let request = Arc::new(FakeRequest::default());
            let answering = request.clone();
            main.on_slice(move |n| {
                if n == 40 {
                    answering.answer(9);
                }
            });
            let ticks = Arc::new(AtomicUsize::new(0));
            let counted = ticks.clone();
            let answer = runtime.block_on(async {
                // Another task on the same runtime (on the same thread for current_thread).
                let ticker = tokio::spawn(async move {
                    loop {
                        counted.fetch_add(1, Ordering::SeqCst);
                        tokio::task::yield_now().await;
                    }
                });
                let answer = call(&main, WaitPolicy::silent(), job(&request, None)).await;
                ticker.abort();
                answer
            });
            assert_eq!(answer.unwrap(), 9);
            let slices = main.slices();
            assert_eq!(slices.len(), 40);
            assert!(slices.iter().all(|s| *s == WaitPolicy::MAX_SLICE));
            assert!(
                ticks.load(Ordering::SeqCst) > 0,
                "the runtime's other task never ran"
            );
            assert_eq!(request.cancelled(), 0);
        }
    }

    #[test]
    fn on_the_main_thread_no_answer_times_out_and_cancels_the_request() {
        let main = FakeLoop::new(true, false);
        let request = Arc::new(FakeRequest::default());
        let policy = WaitPolicy {
            timeout: Some(Duration::from_millis(120)),
            ..WaitPolicy::silent()
        };
        let e = current_thread()
            .block_on(call(&main, policy, job(&request, None)))
            .unwrap_err();
        assert_eq!(e.status, BrokerStatus::TransientError);
        assert!(e.context.contains("`refresh`"), "{e}");
        // 50 + 50 + the 20 ms left: a slice never outlasts the timeout.
        assert_eq!(
            main.slices(),
            [50, 50, 20].map(Duration::from_millis).to_vec()
        );
        assert_eq!(request.cancelled(), 1);

        // A sign-in that times out is cancelled by the app, and says how to retry.
        let main = FakeLoop::new(true, false);
        let request = Arc::new(FakeRequest::default());
        let policy = WaitPolicy {
            timeout: Some(Duration::from_secs(1)),
            ..WaitPolicy::interactive()
        };
        let e = current_thread()
            .block_on(call(&main, policy, job(&request, None)))
            .unwrap_err();
        assert_eq!(e.status, BrokerStatus::ApplicationCanceled);
        assert!(e.context.contains("acquire_token_interactive"));
        assert_eq!(main.slices().len(), 20);
        assert_eq!(request.cancelled(), 1);
    }

    #[test]
    fn slices_are_never_longer_than_fifty_milliseconds() {
        let main = FakeLoop::new(true, false);
        let request = Arc::new(FakeRequest::default());
        let answering = request.clone();
        main.on_slice(move |n| {
            if n == 3 {
                answering.answer(1);
            }
        });
        let policy = WaitPolicy {
            slice: Duration::from_secs(5),
            timeout: None,
            ..WaitPolicy::interactive()
        };
        assert_eq!(
            current_thread()
                .block_on(call(&main, policy, job(&request, None)))
                .unwrap(),
            1
        );
        assert_eq!(main.slices(), vec![WaitPolicy::MAX_SLICE; 3]);
    }

    #[test]
    fn dropping_the_call_on_the_main_thread_cancels_the_request_there() {
        let main = FakeLoop::new(true, false);
        let request = Arc::new(FakeRequest::default());
        let mut pending = call(&main, WaitPolicy::interactive(), job(&request, None));
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut pending).poll(&mut cx).is_pending());
        assert_eq!(request.started(), 1);
        assert_eq!(main.slices().len(), 1);
        drop(pending);
        assert_eq!(request.cancelled(), 1);

        // A finished call cancels nothing.
        let request = Arc::new(FakeRequest::default());
        let mut done = call(&main, WaitPolicy::silent(), job(&request, Some(3)));
        assert!(matches!(
            Pin::new(&mut done).poll(&mut cx),
            Poll::Ready(Ok(3))
        ));
        drop(done);
        assert_eq!(request.cancelled(), 0);
    }

    #[test]
    fn off_the_main_thread_a_serviced_main_queue_runs_the_request() {
        let main = FakeLoop::new(false, true);
        let request = Arc::new(FakeRequest::default());
        let answer =
            multi_thread().block_on(call(&main, WaitPolicy::silent(), job(&request, Some(5))));
        assert_eq!(answer.unwrap(), 5);
        assert!(
            main.slices().is_empty(),
            "only the main thread runs its loop"
        );

        // The answer may come long after the start (here from another thread).
        let request = Arc::new(FakeRequest::default());
        let answering = request.clone();
        std::thread::spawn(move || {
            while answering.started() == 0 {
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis(50));
            answering.answer(6);
        });
        let answer =
            multi_thread().block_on(call(&main, WaitPolicy::silent(), job(&request, None)));
        assert_eq!(answer.unwrap(), 6);
    }

    #[test]
    fn off_the_main_thread_an_unserviced_main_queue_fails_fast_with_a_typed_error() {
        let main = FakeLoop::new(false, false);
        let request = Arc::new(FakeRequest::default());
        let policy = WaitPolicy {
            main_queue_deadline: Duration::from_millis(100),
            ..WaitPolicy::interactive()
        };
        let began = Instant::now();
        let e = current_thread()
            .block_on(call(&main, policy, job(&request, None)))
            .unwrap_err();
        assert!(began.elapsed() < Duration::from_secs(5));
        assert_eq!(e.status, BrokerStatus::ApiContractViolation);
        assert_eq!(e.platform, BrokerPlatform::MacOs);
        assert!(e.context.contains("CFRunLoopRun()"), "{e}");
        assert!(e.context.contains("#[tokio::main]"), "{e}");
        // When the main thread finally gets to the queue, the abandoned request does not start.
        main.drain_queue();
        assert_eq!(request.started(), 0);
        assert_eq!(request.cancelled(), 0);
    }

    #[test]
    fn off_the_main_thread_a_started_request_that_never_answers_times_out_and_is_cancelled() {
        let main = FakeLoop::new(false, true);
        let request = Arc::new(FakeRequest::default());
        let policy = WaitPolicy {
            main_queue_deadline: Duration::from_secs(2),
            timeout: Some(Duration::from_millis(200)),
            ..WaitPolicy::silent()
        };
        let e = multi_thread()
            .block_on(call(&main, policy, job(&request, None)))
            .unwrap_err();
        assert_eq!(e.status, BrokerStatus::TransientError);
        assert!(e.context.contains("main thread"), "{e}");
        // The cancel was posted to the main queue (here: a thread of its own).
        let began = Instant::now();
        while request.cancelled() == 0 && began.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(request.started(), 1);
        assert_eq!(request.cancelled(), 1);
    }

    #[test]
    fn dropping_a_call_still_in_the_main_queue_means_it_never_starts() {
        let main = FakeLoop::new(false, false);
        let request = Arc::new(FakeRequest::default());
        let mut pending = call(&main, WaitPolicy::silent(), job(&request, None));
        let runtime = current_thread();
        let _guard = runtime.enter();
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut pending).poll(&mut cx).is_pending());
        drop(pending);
        main.drain_queue();
        assert_eq!(request.started(), 0);
        assert_eq!(request.cancelled(), 0);
    }

    #[test]
    fn a_request_that_drops_its_reply_is_an_error_not_a_hang() {
        let main = FakeLoop::new(true, false);
        let silent = MainThreadJob::<u32> {
            operation: "get_accounts_operation",
            start: Box::new(drop),
            cancel: Box::new(|| {}),
        };
        let e = current_thread()
            .block_on(call(&main, WaitPolicy::silent(), silent))
            .unwrap_err();
        assert_eq!(e.status, BrokerStatus::Unexpected);
        assert!(e.context.contains("get_accounts_operation"));
    }
}
