//! [`Controller`]: what a directive's setup function is handed for one server block.
//!
//! It is a [`Dispenser`] over every occurrence of the directive in the block (it derefs to one),
//! plus the facts about the block a plugin needs while it reads its options: the block's zones,
//! and hooks to run when the server starts and stops.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};

use crate::corefile::Dispenser;
use crate::pkg::http::{HttpHandler, HttpRoute};
use crate::{Chain, ConfigError, Plugin};

/// A directive's setup: reads its tokens from the controller and returns the plugin to put in
/// the block's chain, or `None` for a directive that only configures the server (like `health`
/// or `reload`). Errors carry file:line; the server adds the `plugin/<name>: ` prefix.
pub type SetupFn = fn(&mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError>;

/// Work to run once the servers are up, or when they stop; an error is reported (and at start-up,
/// stops the start).
pub type Hook = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// State shared by every plugin of one configuration load, one value per type: what CoreDNS
/// keeps in package variables (the *ready* plugin's list, for instance), but scoped to a load so
/// that two configurations (a reload, or two servers in one test process) never mix.
#[derive(Clone, Default)]
pub struct Shared(Arc<Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>>);

impl Shared {
    /// The value of type `T` for this load, created on first use.
    pub fn get<T: Default + Send + Sync + 'static>(&self) -> Arc<T> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let entry = map.entry(TypeId::of::<T>()).or_insert_with(|| Arc::new(T::default()));
        entry.clone().downcast::<T>().unwrap_or_else(|_| Arc::new(T::default()))
    }
}

/// What directives that only configure the server (*multisocket*, *timeouts*, *debug*,
/// *shed*) set, by server block: the server reads it when it groups blocks into listeners. One
/// map per value type, in the load's [`Shared`] state ([`Controller::set_for_block`]).
pub struct PerBlock<T>(Mutex<HashMap<usize, T>>);

impl<T> Default for PerBlock<T> {
    fn default() -> Self {
        Self(Mutex::new(HashMap::new()))
    }
}

impl<T: Clone> PerBlock<T> {
    /// What block `index` set, if it used the directive.
    pub fn of(&self, index: usize) -> Option<T> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).get(&index).cloned()
    }

    /// True if any block did.
    pub fn any(&self) -> bool {
        !self.0.lock().unwrap_or_else(|e| e.into_inner()).is_empty()
    }

    fn set(&self, index: usize, value: T) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(index, value);
    }
}

/// Where the listeners are bound, by their `server` label as configured (`dns://:0`,
/// `dns://127.0.0.1:53`), and the HTTP listeners by `http ADDRESS` as the Corefile wrote the
/// address (`http localhost:0`): the port differs when the Corefile named 0, and the address is
/// the wildcard unless *bind* named one. Filled in by the server before the start-up hooks run;
/// *loop* uses it to reach its own listener, *health* to ask its own `/health`.
#[derive(Default)]
pub struct BoundAddrs(pub Mutex<HashMap<String, std::net::SocketAddr>>);

impl BoundAddrs {
    /// The key of the HTTP listener the Corefile wrote as `addr`.
    pub fn http_key(addr: &str) -> String {
        format!("http {addr}")
    }
}

/// The finished chain of a server block, filled in once every directive of the block is set up,
/// for plugins that need to see the others (*ready* asks them whether they are ready).
pub type BlockChain = Arc<OnceLock<Chain>>;

/// The setup context of one directive in one server block.
pub struct Controller {
    dispenser: Dispenser,
    zones: Vec<String>,
    servers: Vec<(String, String)>,
    block_index: usize,
    chain: BlockChain,
    shared: Shared,
    on_startup: Vec<Hook>,
    on_shutdown: Vec<Hook>,
    routes: Vec<HttpRoute>,
}

impl Controller {
    /// A controller over `dispenser` for server block number `block_index`, whose keys name
    /// `zones` (normalised: lower-case, fully qualified).
    pub fn new(dispenser: Dispenser, zones: Vec<String>, block_index: usize) -> Self {
        let servers = zones.iter().map(|z| (z.clone(), "dns://:53".to_string())).collect();
        Self {
            dispenser,
            zones,
            servers,
            block_index,
            chain: BlockChain::default(),
            shared: Shared::default(),
            on_startup: Vec::new(),
            on_shutdown: Vec::new(),
            routes: Vec::new(),
        }
    }

    /// Sets the (zone, server label) pairs the block serves, e.g. `("cluster.local.",
    /// "dns://:53")`, and the handle its finished chain will be put in.
    pub fn with_block(mut self, servers: Vec<(String, String)>, chain: BlockChain) -> Self {
        self.servers = servers;
        self.chain = chain;
        self
    }

    /// Sets the state shared by all plugins of this configuration load.
    pub fn with_shared(mut self, shared: Shared) -> Self {
        self.shared = shared;
        self
    }

    /// The value of type `T` shared by all plugins of this configuration load.
    pub fn shared<T: Default + Send + Sync + 'static>(&self) -> Arc<T> {
        self.shared.get()
    }

    /// A controller over the tokens of `input`, for the zone `.`, named `Testfile` in errors,
    /// the way CoreDNS's `caddy.NewTestController` is used in setup tests.
    pub fn from_text(input: &str) -> Self {
        Self::new(Dispenser::from_text(input), vec![".".to_string()], 0)
    }

    /// The zones of the server block, in key order, normalised.
    pub fn zones(&self) -> &[String] {
        &self.zones
    }

    /// Each zone of the block with the `server` label of the listener it is served on.
    pub fn servers(&self) -> &[(String, String)] {
        &self.servers
    }

    /// The block's chain, available once all of its directives are set up.
    pub fn block_chain(&self) -> BlockChain {
        self.chain.clone()
    }

    /// Asks the server to answer HTTP requests for `path` at `addr` with `handler`.
    pub fn http(
        &mut self,
        addr: &str,
        path: &'static str,
        owner: &'static str,
        handler: HttpHandler,
    ) {
        self.routes.push(HttpRoute { addr: addr.to_string(), path, owner, handler });
    }

    /// Takes the HTTP routes asked for so far.
    pub fn take_routes(&mut self) -> Vec<HttpRoute> {
        std::mem::take(&mut self.routes)
    }

    /// The index of the server block in the Corefile, counting from 0.
    pub fn block_index(&self) -> usize {
        self.block_index
    }

    /// Runs `hook` once every server has started; an error stops the start-up.
    pub fn on_startup(&mut self, hook: Hook) {
        self.on_startup.push(hook);
    }

    /// Runs `hook` when the server stops (or, on reload, when this configuration is replaced).
    pub fn on_shutdown(&mut self, hook: Hook) {
        self.on_shutdown.push(hook);
    }

    /// Runs `task` in the background from the moment serving starts until this configuration
    /// stops or is replaced (a file watcher, a self-check): the task is spawned by a start-up
    /// hook and aborted by a shutdown hook.
    pub fn background(&mut self, task: impl Future<Output = ()> + Send + 'static) {
        let handle: Arc<Mutex<Option<tokio::task::AbortHandle>>> = Arc::default();
        let slot = handle.clone();
        self.on_startup(Box::pin(async move {
            let spawned = tokio::spawn(task);
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(spawned.abort_handle());
            Ok(())
        }));
        self.on_shutdown(Box::pin(async move {
            if let Some(task) = handle.lock().unwrap_or_else(|e| e.into_inner()).take() {
                task.abort();
            }
            Ok(())
        }));
    }

    /// Takes the hooks registered so far: (startup, shutdown).
    pub fn take_hooks(&mut self) -> (Vec<Hook>, Vec<Hook>) {
        (std::mem::take(&mut self.on_startup), std::mem::take(&mut self.on_shutdown))
    }

    /// Records `value` for this block, for the server to read ([`PerBlock`]).
    pub fn set_for_block<T: Clone + Send + Sync + 'static>(&self, value: T) {
        self.shared::<PerBlock<T>>().set(self.block_index, value);
    }

    /// The error CoreDNS gives when a once-per-block plugin appears again.
    pub fn once_err(&self) -> ConfigError {
        self.dispenser.err("this plugin can only be used once per Server Block")
    }
}

impl Deref for Controller {
    type Target = Dispenser;
    fn deref(&self) -> &Dispenser {
        &self.dispenser
    }
}

impl DerefMut for Controller {
    fn deref_mut(&mut self) -> &mut Dispenser {
        &mut self.dispenser
    }
}
