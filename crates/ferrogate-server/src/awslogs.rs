//! The `awslogs` log driver: a task's container output delivered to CloudWatch Logs as the
//! task's execution role.
//!
//! At launch ([`Drivers::prepare`]) the execution role is assumed by
//! `ecs-tasks.amazonaws.com` for the task (`ferrogate_iam::service_role`), the group is
//! created if `awslogs-create-group` asks for it, and each container's stream
//! `<prefix>/<container>/<task id>` is created, all as that role through the executor: a
//! missing permission or group fails the task with the reason Fargate gives. Each
//! container then gets a bounded buffer ([`ferrogate_runtime::agent::log_channel`]) which
//! the runtime's output reader fills and a shipper ([`ship`]) empties into PutLogEvents
//! calls, made as the role and so authorized and recorded like any request.
//!
//! Events follow Docker's awslogs driver (moby `daemon/logger/awslogs/cloudwatchlogs.go`):
//! one event per line, a line longer than 262,118 bytes (256 KiB less AWS's 26-byte event
//! overhead) split into events of at most that size at UTF-8 boundaries, empty lines
//! skipped, and with `awslogs-multiline-pattern` (or `awslogs-datetime-format`) a line that
//! matches starting a new event to which the following lines are added, each with its
//! newline. A batch goes out when it holds 10,000 events or 1,048,576 bytes (AWS's
//! PutLogEvents limits, which Docker uses too) or its first event is [`FLUSH_AGE`] old.
//! A batch PutLogEvents refuses (a disabled group key, a removed permission) is dropped,
//! as Docker drops it: the task keeps running and the server log says why, never what.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use ferrogate_api::{Caller, Client};
use ferrogate_ecs::logconfig::{AwsLogs, LogMode};
use ferrogate_ecs::task::Task;
use ferrogate_iam::service_role::{assume_for_service, ServiceAssumption};
use ferrogate_logs::ops::{CreateLogGroupInput, CreateLogStreamInput, PutLogEventsInput};
use ferrogate_logs::LogsError;
use ferrogate_runtime::agent::{
    log_channel, BufferMode, LogLine, LogReceiver, LogSender, OutputSinks,
};
use ferrogate_runtime::{ContainerName, TaskId};
use ferrogate_wire::{ApiError, AwsError, Protocol};

use crate::App;

/// The service principal ECS assumes task roles as.
const ECS_TASKS: &str = "ecs-tasks.amazonaws.com";
/// The largest event message: 256 KiB less the 26 bytes AWS counts per event.
pub(crate) const MAX_MESSAGE: usize = 262_144 - 26;
/// PutLogEvents' limits (API Reference).
const MAX_BATCH_EVENTS: usize = 10_000;
const MAX_BATCH_BYTES: usize = 1_048_576;
const EVENT_OVERHEAD: usize = 26;
/// How long an event waits for others before its batch goes out. Docker waits 5 s; a
/// quarter of a second keeps a line visible in GetLogEvents well within a second of being
/// written, at most four calls a second per container.
pub(crate) const FLUSH_AGE: Duration = Duration::from_millis(250);

/// The buffers made at launch, until the runtime opens them.
#[derive(Debug, Default)]
pub(crate) struct Drivers {
    pending: Mutex<HashMap<(String, String), LogSender>>,
}

impl OutputSinks for Drivers {
    fn open(&self, task: &TaskId, container: &ContainerName) -> Option<LogSender> {
        let key = (task.as_str().to_owned(), container.as_str().to_owned());
        self.pending.lock().ok()?.remove(&key)
    }
}

/// AWS's code and message of a refusal.
fn describe<E: AwsError>(e: &E) -> String {
    let api = ApiError::from_error(e, Protocol::Json11);
    format!("{}: {}", api.code, api.message)
}

impl Drivers {
    /// Drops what a task's runtime never took (a task that stopped before its containers'
    /// output was set up): its shippers end.
    pub(crate) fn forget(&self, task: &str) {
        if let Ok(mut p) = self.pending.lock() {
            p.retain(|(t, _), _| t != task);
        }
    }

    /// Assumes the task's execution role and creates each awslogs container's stream (and
    /// group), then starts its shipper. `Err` is the task's `stoppedReason`.
    pub(crate) async fn prepare(&self, app: &App, t: &Task) -> Result<(), String> {
        let logged: Vec<_> = t
            .containers
            .iter()
            .filter_map(|c| c.log.as_ref().map(|l| (c.name.clone(), l.clone())))
            .collect();
        if logged.is_empty() {
            return Ok(());
        }
        let client = execution_role(app, t).await?;
        let mut ready = Vec::new();
        for (name, cfg) in logged {
            let client = client.with_region(&cfg.region);
            let stream = format!("{}/{}/{}", cfg.stream_prefix, name, t.id);
            create_stream(app, &client, &cfg, &stream).await?;
            ready.push((name, cfg, stream, client));
        }
        let mut pending = self
            .pending
            .lock()
            .map_err(|_| "ResourceInitializationError: internal error".to_owned())?;
        for (name, cfg, stream, client) in ready {
            let mode = match cfg.mode {
                LogMode::Blocking => BufferMode::Blocking,
                LogMode::NonBlocking => BufferMode::NonBlocking,
            };
            let cap = usize::try_from(cfg.max_buffer_bytes).unwrap_or(usize::MAX);
            let (tx, rx) = log_channel(mode, cap);
            let shipper = Shipper {
                app: app.clone(),
                client: client.client,
                group: cfg.group.clone(),
                stream,
                task: t.id.clone(),
                container: name.clone(),
            };
            let events = Events::new(cfg.multiline.as_deref());
            tokio::spawn(ship(shipper, events, rx));
            pending.insert((t.id.clone(), name), tx);
        }
        Ok(())
    }
}

/// A client calling as the task's execution-role session, in some region.
#[derive(Clone)]
struct RoleClient {
    client: Client,
    caller: Caller,
    exec: ferrogate_api::Executor,
}

impl RoleClient {
    fn with_region(&self, region: &str) -> RoleClient {
        let mut caller = self.caller.clone();
        caller.region = region.to_owned();
        RoleClient {
            client: Client::new(self.exec.clone(), caller.clone()),
            caller,
            exec: self.exec.clone(),
        }
    }
}

/// The task's execution-role session (no credentials are issued: the server calls as it).
async fn execution_role(app: &App, t: &Task) -> Result<RoleClient, String> {
    let Some(role) = &t.execution_role_arn else {
        return Err("ResourceInitializationError: Fargate requires task definition to have execution role ARN to support log driver awslogs.".into());
    };
    let task_arn = t.arn();
    let assumed = assume_for_service(
        &app.exec,
        &ServiceAssumption {
            role_arn: role,
            service: ECS_TASKS,
            source_account: &t.account,
            source_arn: &task_arn,
            region: &t.region,
            session_name: &t.id,
            mint_credentials: false,
        },
    )
    .await
    .map_err(|e| {
        tracing::info!(task = %t.id, error = %describe(&e), "the execution role could not be assumed");
        format!("ResourceInitializationError: ECS was unable to assume the role '{role}' that was provided for this task. Please verify that the role being passed has the proper trust relationship and permissions and that your IAM user has permissions to pass this role.")
    })?;
    // The driver calls from the task's network interface, as Fargate's agent does (platform
    // version 1.4.0 sends the task's log traffic through its ENI).
    let source = t
        .eni
        .as_ref()
        .map_or_else(|| "127.0.0.1".to_owned(), |e| e.address.to_string());
    let caller = Caller {
        principal: assumed.principal().clone(),
        region: t.region.clone(),
        source_ip: source,
        user_agent: "ferrogate-awslogs (amazon-ecs-agent compatible)".into(),
        called_via: Vec::new(),
    };
    Ok(RoleClient {
        client: Client::new(app.exec.clone(), caller.clone()),
        caller,
        exec: app.exec.clone(),
    })
}

/// Creates the group (if asked) and the stream; one that exists already is fine, as in
/// Docker's driver.
async fn create_stream(
    app: &App,
    c: &RoleClient,
    cfg: &AwsLogs,
    stream: &str,
) -> Result<(), String> {
    let fail = |what: &str, e: &LogsError| {
        format!("ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: failed to create Cloudwatch log {what}: {} : exit status 1", describe(e))
    };
    if cfg.create_group {
        let input = CreateLogGroupInput::new(&cfg.group, None).map_err(|e| fail("group", &e))?;
        match c.client.call(&app.logs, input).await {
            Ok(_) | Err(LogsError::ResourceAlreadyExistsException(_)) => {}
            Err(e) => return Err(fail("group", &e)),
        }
    }
    let input = CreateLogStreamInput::new(&cfg.group, stream).map_err(|e| fail("stream", &e))?;
    match c.client.call(&app.logs, input).await {
        Ok(_) | Err(LogsError::ResourceAlreadyExistsException(_)) => Ok(()),
        Err(e) => Err(fail("stream", &e)),
    }
}

/// Where one container's events go.
struct Shipper {
    app: App,
    client: Client,
    group: String,
    stream: String,
    task: String,
    container: String,
}

/// Turns lines into events (Docker's rules, see the module's documentation).
pub(crate) struct Events {
    multiline: Option<regex_lite::Regex>,
    /// The start of a line whose end has not come yet.
    partial: String,
    /// The multiline event being gathered, with its first line's time.
    gathering: Option<(i64, String)>,
    /// The last timestamp given out: events stay in order if the clock steps back.
    last: i64,
}

impl Events {
    /// With the multiline pattern, if any (checked at registration; one that no longer
    /// compiles is treated as none).
    pub(crate) fn new(multiline: Option<&str>) -> Self {
        Events {
            multiline: multiline.and_then(|p| regex_lite::Regex::new(p).ok()),
            partial: String::new(),
            gathering: None,
            last: 0,
        }
    }

    fn millis(&mut self, at: SystemTime) -> i64 {
        let ms = at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        self.last = self.last.max(ms);
        self.last
    }

    /// Adds one piece of output; the events it completes go to `out`.
    pub(crate) fn push(&mut self, line: LogLine, out: &mut Vec<(i64, String)>) {
        let ts = self.millis(line.at);
        self.partial.push_str(&String::from_utf8_lossy(&line.bytes));
        if line.partial {
            // A line that goes on: whole events of it go now, the rest waits.
            while self.partial.len() > MAX_MESSAGE {
                let cut = floor_char_boundary(&self.partial, MAX_MESSAGE);
                let head: String = self.partial.drain(..cut).collect();
                self.line(ts, head, out);
            }
            return;
        }
        let whole = std::mem::take(&mut self.partial);
        self.line(ts, whole, out);
    }

    fn line(&mut self, ts: i64, text: String, out: &mut Vec<(i64, String)>) {
        let Some(re) = &self.multiline else {
            split(ts, &text, out);
            return;
        };
        let starts = re.is_match(&text);
        let over = self
            .gathering
            .as_ref()
            .is_some_and(|(_, g)| g.len() + text.len() + 1 > MAX_MESSAGE);
        if starts || over {
            self.flush(out);
        }
        let (_, g) = self.gathering.get_or_insert_with(|| (ts, String::new()));
        g.push_str(&text);
        g.push('\n');
    }

    /// Ends the multiline event being gathered, if any.
    pub(crate) fn flush(&mut self, out: &mut Vec<(i64, String)>) {
        if let Some((ts, g)) = self.gathering.take() {
            split(ts, &g, out);
        }
    }

    /// Whether a multiline event is being gathered.
    fn gathering(&self) -> bool {
        self.gathering.is_some()
    }
}

/// The largest index ≤ `i` at a character boundary of `s`.
fn floor_char_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// `text` as events of at most [`MAX_MESSAGE`] bytes; nothing for an empty line (which
/// CloudWatch Logs would refuse).
fn split(ts: i64, mut text: &str, out: &mut Vec<(i64, String)>) {
    while !text.is_empty() {
        let cut = floor_char_boundary(text, MAX_MESSAGE);
        let (head, rest) = text.split_at(cut);
        out.push((ts, head.to_owned()));
        text = rest;
    }
}

/// The events of one PutLogEvents call being gathered.
#[derive(Default)]
pub(crate) struct Batch {
    pub(crate) events: Vec<(i64, String)>,
    bytes: usize,
    since: Option<tokio::time::Instant>,
}

impl Batch {
    /// Whether `e` still fits.
    pub(crate) fn fits(&self, e: &(i64, String)) -> bool {
        self.events.len() < MAX_BATCH_EVENTS
            && self.bytes + e.1.len() + EVENT_OVERHEAD <= MAX_BATCH_BYTES
    }

    pub(crate) fn add(&mut self, e: (i64, String)) {
        self.bytes += e.1.len() + EVENT_OVERHEAD;
        self.since.get_or_insert_with(tokio::time::Instant::now);
        self.events.push(e);
    }

    fn take(&mut self) -> Vec<(i64, String)> {
        self.bytes = 0;
        self.since = None;
        std::mem::take(&mut self.events)
    }
}

/// Empties one container's buffer into its stream until the container's output ends, then
/// says so to the runtime (which reports the task stopped only after that).
async fn ship(s: Shipper, mut events: Events, mut rx: LogReceiver) {
    let mut batch = Batch::default();
    let mut ready = Vec::new();
    let mut failures = 0u64;
    loop {
        let due = batch.since.map(|t| t + FLUSH_AGE).or_else(|| {
            events
                .gathering()
                .then(|| tokio::time::Instant::now() + FLUSH_AGE)
        });
        let next = match due {
            Some(d) => match tokio::time::timeout_at(d, rx.recv()).await {
                Ok(l) => l.map(Some),
                Err(_) => Some(None),
            },
            None => rx.recv().await.map(Some),
        };
        match next {
            Some(Some(line)) => events.push(line, &mut ready),
            // The batch (or a multiline event) is old enough.
            Some(None) => events.flush(&mut ready),
            None => {
                events.flush(&mut ready);
                add_all(&s, &mut batch, &mut ready, &mut failures).await;
                put(&s, batch.take(), &mut failures).await;
                break;
            }
        }
        add_all(&s, &mut batch, &mut ready, &mut failures).await;
        if batch.since.is_some_and(|t| t.elapsed() >= FLUSH_AGE) {
            put(&s, batch.take(), &mut failures).await;
        }
    }
    let dropped = rx.dropped();
    if dropped > 0 {
        tracing::warn!(task = %s.task, container = %s.container, dropped, "awslogs non-blocking mode: lines dropped because the buffer (max-buffer-size) was full");
    }
    if failures > 0 {
        tracing::warn!(task = %s.task, container = %s.container, batches = failures, "awslogs: batches CloudWatch Logs refused were dropped");
    }
    rx.finished();
}

/// Moves `ready` events into the batch, sending it whenever it is full.
async fn add_all(
    s: &Shipper,
    batch: &mut Batch,
    ready: &mut Vec<(i64, String)>,
    failures: &mut u64,
) {
    for e in ready.drain(..) {
        if !batch.fits(&e) {
            put(s, batch.take(), failures).await;
        }
        batch.add(e);
    }
}

/// One PutLogEvents call. A refused batch is dropped (Docker's driver does the same) and
/// the first refusal is logged without its content.
async fn put(s: &Shipper, events: Vec<(i64, String)>, failures: &mut u64) {
    if events.is_empty() {
        return;
    }
    let input = match PutLogEventsInput::new(&s.group, &s.stream, events) {
        Ok(i) => i,
        Err(e) => {
            tracing::error!(task = %s.task, container = %s.container, error = %describe(&e), "awslogs: a batch was not valid; dropped");
            *failures += 1;
            return;
        }
    };
    if let Err(e) = s.client.call(&s.app.logs, input).await {
        if *failures == 0 {
            tracing::warn!(task = %s.task, container = %s.container, group = %s.group, stream = %s.stream, error = %describe(&e), "awslogs: PutLogEvents failed; the container keeps running and its lines are dropped while this lasts");
        }
        *failures += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(ms: u64, text: &str, partial: bool) -> LogLine {
        LogLine {
            at: SystemTime::UNIX_EPOCH + Duration::from_millis(ms),
            bytes: text.as_bytes().to_vec(),
            partial,
        }
    }

    fn run(multiline: Option<&str>, lines: Vec<LogLine>) -> Vec<(i64, String)> {
        let mut ev = Events::new(multiline);
        let mut out = Vec::new();
        for l in lines {
            ev.push(l, &mut out);
        }
        ev.flush(&mut out);
        out
    }

    #[test]
    fn one_event_per_line_in_order_empty_lines_skipped_and_time_never_goes_back() {
        let out = run(
            None,
            vec![line(5, "a", false), line(4, "", false), line(3, "b", false)],
        );
        assert_eq!(out, vec![(5, "a".into()), (5, "b".into())]);
    }

    #[test]
    fn a_300_kib_line_is_split_as_docker_splits_it() {
        let text = "x".repeat(300 * 1024);
        // As the runtime hands it over: a 256 KiB piece, then the rest.
        let out = run(
            None,
            vec![
                line(1, &text[..256 * 1024], true),
                line(1, &text[256 * 1024..], false),
            ],
        );
        let sizes: Vec<usize> = out.iter().map(|(_, m)| m.len()).collect();
        assert_eq!(sizes, vec![MAX_MESSAGE, 300 * 1024 - MAX_MESSAGE]);
        assert_eq!(out.concat_messages(), text);
        // A split never cuts a character in two.
        let wide = "é".repeat(MAX_MESSAGE);
        let out = run(None, vec![line(1, &wide, false)]);
        assert!(out.iter().all(|(_, m)| m.len() <= MAX_MESSAGE));
        assert_eq!(out.concat_messages(), wide);
    }

    trait Concat {
        fn concat_messages(&self) -> String;
    }
    impl Concat for Vec<(i64, String)> {
        fn concat_messages(&self) -> String {
            self.iter().map(|(_, m)| m.as_str()).collect()
        }
    }

    #[test]
    fn multiline_events_start_at_the_pattern_with_the_first_lines_time() {
        let out = run(
            Some("^INFO"),
            vec![
                line(1, "INFO a", false),
                line(2, "  at x", false),
                line(3, "  at y", false),
                line(4, "INFO b", false),
            ],
        );
        assert_eq!(
            out,
            vec![
                (1, "INFO a\n  at x\n  at y\n".into()),
                (4, "INFO b\n".into())
            ]
        );
        // The datetime format, translated at registration.
        let re = "\\d{4}-(?:0[1-9]|1[0-2])";
        let out = run(
            Some(re),
            vec![
                line(1, "2024-05 start", false),
                line(2, "more", false),
                line(3, "2024-06 next", false),
            ],
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].1, "2024-05 start\nmore\n");
    }

    #[test]
    fn a_batch_holds_at_most_aws_limits() {
        let mut b = Batch::default();
        for i in 0..MAX_BATCH_EVENTS {
            assert!(b.fits(&(0, "x".into())), "{i}");
            b.add((0, "x".into()));
        }
        assert!(!b.fits(&(0, "x".into())));
        let mut b = Batch::default();
        let big = "y".repeat(MAX_MESSAGE);
        for _ in 0..4 {
            assert!(b.fits(&(0, big.clone())));
            b.add((0, big.clone()));
        }
        // Four of the largest events fill 1,048,576 bytes exactly, overhead included.
        assert!(!b.fits(&(0, big)));
        assert!(!b.fits(&(0, "z".into())));
    }
}
