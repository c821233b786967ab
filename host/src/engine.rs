//! Loading a connector component and calling it under the sandbox's limits.
//!
//! One [`Runtime`] per wasmtime engine (the engine, its epoch ticker, the linker and the cache of
//! compiled components), shared by every job of a process; one [`Component`] per component
//! file, loaded once; one [`Session`] per run, with a fresh store so nothing survives between
//! runs or tenants.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmtime::component::{Component as Compiled, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, Trap, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::cache;
pub use crate::cache::LoadPath;
use crate::error::Failure;
use crate::sandbox::budget::{FIELDS_BYTES, HOST_OBJECTS, HOST_OBJECTS_BUDGET};
use crate::sandbox::http::SandboxHttp;
use crate::sandbox::limits::{Limits, Meter, TICK};
use crate::text::printable;

use crate::wit::{
    AssetPage, CheckReport, ConnectorError, ConnectorSpec, FindingPage, FindingQuery, RuntimeInfo,
    Setting,
};
use crate::wit::{SecurityConnector, SecurityConnectorPre};

/// Interfaces a connector may import. Everything else (`wasi:sockets`, ...) is refused at load
/// time, by name.
///
/// `wasi:filesystem` is met inertly: the embedded interpreters of other languages' toolchains
/// (CPython in componentize-py, SpiderMonkey in ComponentizeJS) import it whether or not the
/// connector uses it, and the instance is given no preopened directory. Every filesystem
/// operation needs a descriptor, and `preopens.get-directories` is the only source of one, so
/// nothing can be opened, listed or written (`tests/fs-rogue` tries).
const ALLOWED_IMPORTS: &[&str] = &[
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
    "wasi:http/types",
    "wasi:http/outgoing-handler",
    "wasi:io/poll",
    "wasi:io/error",
    "wasi:io/streams",
    "wasi:clocks/monotonic-clock",
    "wasi:clocks/wall-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "unified-security:connector/types",
];

/// Most random bytes one `get-random-bytes` call may ask for. The host fills them on its own
/// CPU, which the epoch meter charges only between calls: small calls keep that charge honest
/// (a loop of them meets the CPU limit), and a large one traps instead of burning host time.
pub const MAX_RANDOM_BYTES: u64 = 64 << 10;

/// Store data: WASI with nothing granted, wasi-http behind the sandbox hook, the meters.
pub struct GuestState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: SandboxHttp,
    meter: Meter,
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for GuestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// The engine connectors run on, with what every component shares: the epoch ticker that
/// drives the CPU meter, the WASI linker, and the cache of compiled components (on disk, and in
/// memory by SHA-256 so many jobs of one component compile or load it once). Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Shared>,
}

struct Shared {
    engine: Engine,
    linker: Linker<GuestState>,
    cache_dir: Option<PathBuf>,
    loaded: Mutex<HashMap<String, Component>>,
    ticker: Arc<Ticker>,
}

/// The thread that advances an engine's epoch every [`TICK`], for as long as a runtime or any
/// connector loaded by it is alive (without it the CPU limit would never fire).
struct Ticker {
    stop: Arc<AtomicBool>,
}

impl Ticker {
    fn start(engine: Engine) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch ticker thread");
        Ticker { stop }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Runtime {
    /// The engine configuration connectors need: epoch interruption (the CPU meter counts
    /// epochs) and async support (host calls await the network). An embedder that brings its
    /// own engine builds it from this.
    pub fn engine_config() -> Config {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config
    }

    /// A runtime on an engine of its own; compiled components cached in `cache_dir`.
    pub fn new(cache_dir: Option<PathBuf>) -> Result<Runtime, Failure> {
        let engine = Engine::new(&Self::engine_config())
            .map_err(|e| Failure::Host(format!("wasmtime engine: {e:#}")))?;
        Runtime::with_engine(engine, cache_dir)
    }

    /// A runtime on the caller's engine, which must come from [`Runtime::engine_config`]. The
    /// runtime advances the engine's epoch: make one runtime per engine, and clone it.
    pub fn with_engine(engine: Engine, cache_dir: Option<PathBuf>) -> Result<Runtime, Failure> {
        let mut linker: Linker<GuestState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .and_then(|_| crate::sandbox::outgoing::add_to_linker(&mut linker))
            .map_err(|e| Failure::Host(format!("linking WASI: {e:#}")))?;
        let ticker = Arc::new(Ticker::start(engine.clone()));
        Ok(Runtime {
            inner: Arc::new(Shared {
                engine,
                linker,
                cache_dir,
                loaded: Mutex::new(HashMap::new()),
                ticker,
            }),
        })
    }

    /// The wasmtime engine components are compiled for.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Loads and links `wasm`: from memory when this runtime loaded the same bytes before, else
    /// through the on-disk cache, else by compiling it.
    pub fn load(&self, wasm: &Path) -> Result<Component, Failure> {
        let started = Instant::now();
        let shared = &self.inner;
        let bytes = cache::read(wasm)?;
        let sha256 = cache::sha256(&bytes);
        if let Some(c) = shared
            .loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&sha256)
        {
            return Ok(Component {
                load_path: LoadPath::InMemory,
                load_time: started.elapsed(),
                ..c.clone()
            });
        }
        let (component, load_path) =
            cache::load(&shared.engine, &bytes, wasm, shared.cache_dir.as_deref())?;
        check_imports(&shared.engine, &component, wasm)?;
        let pre = shared
            .linker
            .instantiate_pre(&component)
            .and_then(SecurityConnectorPre::new)
            .map_err(|e| {
                Failure::Guest(format!(
                    "{}: not a connector component: {e:#}",
                    wasm.display()
                ))
            })?;
        let connector = Component {
            engine: shared.engine.clone(),
            _ticker: shared.ticker.clone(),
            pre,
            load_path,
            load_time: started.elapsed(),
            sha256: sha256.clone(),
        };
        shared
            .loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(sha256, connector.clone());
        Ok(connector)
    }
}

/// A connector component, compiled and linked, ready to instantiate. Cheap to clone.
#[derive(Clone)]
pub struct Component {
    engine: Engine,
    /// Keeps the engine's epoch advancing while this connector may run.
    _ticker: Arc<Ticker>,
    pre: SecurityConnectorPre<GuestState>,
    /// How it was obtained (compiled, from the cache, already loaded).
    pub load_path: LoadPath,
    /// How long loading took.
    pub load_time: Duration,
    /// SHA-256 of the component's bytes, hex.
    pub sha256: String,
}

impl Component {
    /// A fresh instance with its own store, limits and HTTP hook.
    pub async fn instantiate(
        &self,
        hooks: SandboxHttp,
        limits: Limits,
    ) -> Result<Session, Failure> {
        let wasi = WasiCtx::builder().max_random_size(MAX_RANDOM_BYTES).build();
        // What the component can make the host hold: handles by count, header maps by size,
        // response bodies by the hook's byte budget (see `sandbox::budget`).
        let mut table = ResourceTable::new();
        table.set_max_capacity(HOST_OBJECTS);
        let mut http = WasiHttpCtx::new();
        http.set_field_size_limit(FIELDS_BYTES);
        let host_budget = HOST_OBJECTS_BUDGET + hooks.buffers.cap();
        let meter = Meter::new(limits, host_budget);
        let mut hooks = hooks;
        hooks.host_work = meter.host_work.clone();
        let state = GuestState {
            wasi,
            http,
            table,
            hooks,
            meter,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.meter);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut ctx| {
            ctx.data_mut().meter.on_tick()?;
            Ok(UpdateDeadline::Yield(1))
        });
        let bindings =
            self.pre.instantiate_async(&mut store).await.map_err(|e| {
                Failure::Guest(format!("instantiating the component failed: {e:#}"))
            })?;
        Ok(Session {
            store,
            bindings,
            limits,
            poisoned: None,
        })
    }
}

/// One instance. Every call is guarded: CPU and memory by the meter, wall-clock by a timeout.
/// After a fault the instance is dead and every later call reports the original fault.
pub struct Session {
    store: Store<GuestState>,
    bindings: SecurityConnector,
    limits: Limits,
    poisoned: Option<Failure>,
}

/// The outcome of a guarded call: the host's verdict on the guest, then the guest's own result.
pub type Guarded<T> = Result<T, Failure>;

impl Session {
    /// Calls `describe`: the component's spec, not yet checked (see [`crate::describe`]).
    pub async fn describe(&mut self) -> Guarded<ConnectorSpec> {
        self.enter()?;
        let r = timed(
            self.limits.wall_per_call,
            self.bindings
                .unified_security_connector_connector()
                .call_describe(&mut self.store),
        )
        .await;
        self.settle("describe", r)
    }

    /// Passes the settings, and tells the component that this host retries transient failures
    /// (so it must not: retries would multiply). `max-retries = 0` means no retries at all.
    pub async fn configure(&mut self, settings: &[Setting]) -> Guarded<Result<(), ConnectorError>> {
        let runtime = RuntimeInfo {
            name: concat!("connector-host/", env!("CARGO_PKG_VERSION")).to_string(),
            retries_transient: true,
        };
        self.enter()?;
        let r = timed(
            self.limits.wall_per_call,
            self.bindings
                .unified_security_connector_connector()
                .call_configure(&mut self.store, &runtime, settings),
        )
        .await;
        self.settle("configure", r)
    }

    /// Calls `check`, after `configure`: does the vendor accept the settings.
    pub async fn check(&mut self) -> Guarded<Result<CheckReport, ConnectorError>> {
        self.enter()?;
        let r = timed(
            self.limits.wall_per_call,
            self.bindings
                .unified_security_connector_connector()
                .call_check(&mut self.store),
        )
        .await;
        self.settle("check", r)
    }

    /// Calls `list-resources` for the page after `cursor`.
    pub async fn list_resources(
        &mut self,
        cursor: Option<&str>,
    ) -> Guarded<Result<AssetPage, ConnectorError>> {
        self.enter()?;
        let r = timed(
            self.limits.wall_per_call,
            self.bindings
                .unified_security_connector_connector()
                .call_list_resources(&mut self.store, cursor),
        )
        .await;
        self.settle("list-resources", r)
    }

    /// Calls `list-findings` for the page `query` names.
    pub async fn list_findings(
        &mut self,
        query: &FindingQuery,
    ) -> Guarded<Result<FindingPage, ConnectorError>> {
        self.enter()?;
        let r = timed(
            self.limits.wall_per_call,
            self.bindings
                .unified_security_connector_connector()
                .call_list_findings(&mut self.store, query),
        )
        .await;
        self.settle("list-findings", r)
    }

    fn enter(&mut self) -> Guarded<()> {
        match &self.poisoned {
            Some(f) => Err(f.clone()),
            None => {
                self.store.data_mut().meter.start_call();
                Ok(())
            }
        }
    }

    /// Names the limit or trap behind a failed call.
    fn settle<T>(&mut self, call: &str, r: Result<wasmtime::Result<T>, Duration>) -> Guarded<T> {
        let meter = &mut self.store.data_mut().meter;
        let r = match r {
            Ok(Ok(v)) => {
                let checked = meter.check_host_memory().and_then(|()| meter.check_cpu());
                meter.end_call();
                match checked {
                    Ok(()) => return Ok(v),
                    Err(e) => Ok(Err(e)),
                }
            }
            other => {
                meter.end_call();
                other
            }
        };
        let failure = match r {
            Ok(Ok(_)) => unreachable!("returned above"),
            Err(limit) => Failure::Guest(format!(
                "wall-clock limit: `{call}` did not return within {:.0} s",
                limit.as_secs_f64()
            )),
            Ok(Err(e)) => match (&self.store.data().meter.hit, e.downcast_ref::<Trap>()) {
                (Some(hit), _) => {
                    Failure::Guest(format!("the component was stopped in `{call}`: {hit}"))
                }
                (None, Some(trap)) => {
                    Failure::Guest(format!("the component trapped in `{call}`: {trap}"))
                }
                (None, None) if is_fields_too_big(&e) => Failure::Guest(format!(
                    "the component was stopped in `{call}`: header limit: a header map the \
                     component built passed {} KiB",
                    FIELDS_BYTES >> 10
                )),
                (None, None) if is_table_full(&e) => Failure::Guest(format!(
                    "the component was stopped in `{call}`: host-object limit: it held more \
                     than {HOST_OBJECTS} handles (requests, responses, bodies, streams, \
                     headers) at once"
                )),
                (None, None) => Failure::Guest(format!("the component failed in `{call}`: {e:#}")),
            },
        };
        self.poisoned = Some(failure.clone());
        Err(failure)
    }

    /// The last request of this session's run that its cassette could not answer, if any.
    pub fn last_unrecorded(&self) -> Option<String> {
        self.store
            .data()
            .hooks
            .stats
            .last_unrecorded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Why the sandbox last refused one of this session's requests, if it did.
    pub fn last_denial(&self) -> Option<String> {
        self.store
            .data()
            .hooks
            .stats
            .last_denial
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Whether a host call failed because a header map grew past its size limit.
fn is_fields_too_big(e: &wasmtime::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<wasmtime_wasi_http::FieldMapError>(),
            Some(
                wasmtime_wasi_http::FieldMapError::TotalSizeTooBig
                    | wasmtime_wasi_http::FieldMapError::TooManyFields
            )
        )
    })
}

/// Whether a host call failed because the instance's resource table was full.
fn is_table_full(e: &wasmtime::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<wasmtime::component::ResourceTableError>(),
            Some(wasmtime::component::ResourceTableError::Full)
        )
    })
}

async fn timed<T>(limit: Duration, fut: impl Future<Output = T>) -> Result<T, Duration> {
    tokio::time::timeout(limit, fut).await.map_err(|_| limit)
}

fn check_imports(engine: &Engine, component: &Compiled, wasm: &Path) -> Result<(), Failure> {
    let refused: Vec<String> = component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name)
        .filter(|name| !ALLOWED_IMPORTS.contains(&name.split('@').next().unwrap_or(name)))
        .map(|name| format!("`{}`", printable(name, 100)))
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    Err(Failure::Guest(format!(
        "{}: the component imports {}, which a connector is not given; it may import only \
         wasi:http and the inert WASI interfaces (clocks, random, stdio, a filesystem with \
         nothing in it)",
        wasm.display(),
        refused.join(", ")
    )))
}

/// Default directory for precompiled components.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("connector-host"))
}
