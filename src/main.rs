//! The `ferrodns` binary: CoreDNS's command line, signals and exit codes around an [`Instance`].
//!
//! Exit codes: 0 after a clean stop (SIGTERM, SIGINT, SIGQUIT), 1 for a configuration or start-up
//! error (printed on stderr), 2 for a bad flag or a second SIGINT, 3 if stopping failed, 4 if a
//! shutdown hook failed.

use std::process::ExitCode;
use std::time::Duration;

use ferrodns::cli::{self, Flags};
use ferrodns::{Instance, directives, logging, source, version};
use tokio::signal::unix::{Signal, SignalKind, signal};

fn main() -> ExitCode {
    let flags = match cli::parse(std::env::args().skip(1)) {
        Ok(flags) => flags,
        Err(exit) => {
            eprint!("{}", exit.text);
            return ExitCode::from(exit.code);
        }
    };
    if !flags.rest.is_empty() {
        eprintln!("extra command line arguments: [{}]", flags.rest.join(" "));
        return ExitCode::from(1);
    }
    if flags.version {
        print!("{}", version::version_text());
        return ExitCode::SUCCESS;
    }
    if flags.plugins {
        // CoreDNS lists its plugins one per line, followed by an empty line.
        println!("{}", directives::implemented().join("\n") + "\n");
        return ExitCode::SUCCESS;
    }
    logging::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(ferrodns::workers())
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(run(flags));
    // Tasks still running (a connection past its grace) must not hold the exit.
    runtime.shutdown_background();
    logging::flush();
    ExitCode::from(code)
}

async fn run(flags: Flags) -> u8 {
    let source = match source::load(&flags) {
        Ok(s) => s,
        Err(e) => return fatal(&e),
    };
    // Trapped before anything starts: a signal that came while a kubernetes index was still
    // syncing would otherwise meet the default action, which for SIGUSR1 and SIGTERM alike is
    // to kill the process, without a log line or an exit code.
    let Some(mut signals) = Signals::install() else {
        return fatal("cannot install signal handlers");
    };
    let started = tokio::select! {
        started = Instance::start(source) => started,
        code = signals.stop_while_starting() => return code,
    };
    let mut instance = match started {
        Ok(i) => i,
        Err(e) => return fatal(&e),
    };
    if let Some(path) = &flags.pidfile
        && let Err(e) = std::fs::write(path, format!("{}\n", std::process::id()))
    {
        return fatal(&format!("Could not write pidfile: {e}"));
    }
    if !flags.quiet {
        logging::print(instance.banner());
    }
    let code = wait_for_signals(&mut instance, signals).await;
    if let Some(path) = &flags.pidfile {
        let _ = std::fs::remove_file(path);
    }
    code
}

fn fatal(msg: &str) -> u8 {
    eprintln!("{msg}");
    1
}

/// The signals the process traps, from before the configuration starts until it exits.
struct Signals {
    term: Signal,
    int: Signal,
    quit: Signal,
    usr1: Signal,
    hup: Signal,
}

impl Signals {
    fn install() -> Option<Self> {
        Some(Self {
            term: signal(SignalKind::terminate()).ok()?,
            int: signal(SignalKind::interrupt()).ok()?,
            quit: signal(SignalKind::quit()).ok()?,
            usr1: signal(SignalKind::user_defined1()).ok()?,
            hup: signal(SignalKind::hangup()).ok()?,
        })
    }

    /// Waits for a signal that stops a server still starting, and returns the exit code. There
    /// is nothing to drain yet, so each exits at once with its usual line. A SIGUSR1 stays
    /// pending and reloads once the server runs: the Corefile may have changed since it was read.
    async fn stop_while_starting(&mut self) -> u8 {
        tokio::select! {
            _ = self.term.recv() => tracing::info!("SIGTERM: Shutting down servers then terminating"),
            _ = self.int.recv() => tracing::info!("SIGINT: Shutting down"),
            _ = self.quit.recv() => tracing::info!("SIGQUIT: Quitting process immediately"),
        }
        0
    }
}

/// Serves until a signal says stop; returns the exit code. Signals as Caddy v1 traps them for
/// CoreDNS: SIGTERM stops gracefully, SIGINT runs the shutdown hooks and exits (a second SIGINT
/// forces exit 2), SIGQUIT exits at once, SIGUSR1 reloads, SIGHUP is ignored.
async fn wait_for_signals(instance: &mut Instance, signals: Signals) -> u8 {
    let Signals { mut term, mut int, mut quit, mut usr1, mut hup } = signals;
    let mut next_check = instance.reload_every().map(|d| tokio::time::Instant::now() + d);
    loop {
        let check_at =
            next_check.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            _ = tokio::time::sleep_until(check_at), if next_check.is_some() => {
                instance.check_reload().await;
                next_check = instance.reload_every().map(|d| tokio::time::Instant::now() + d);
            }
            _ = term.recv() => {
                tracing::info!("SIGTERM: Shutting down servers then terminating");
                return shutdown(instance, "SIGTERM").await;
            }
            _ = int.recv() => {
                tracing::info!("SIGINT: Shutting down");
                tokio::spawn(async move {
                    if int.recv().await.is_some() {
                        tracing::info!("SIGINT: Force quit");
                        logging::flush();
                        std::process::exit(2);
                    }
                });
                return shutdown(instance, "SIGINT").await;
            }
            _ = quit.recv() => {
                tracing::info!("SIGQUIT: Quitting process immediately");
                return 0;
            }
            _ = usr1.recv() => {
                tracing::info!("SIGUSR1: Reloading");
                reload(instance).await;
                next_check = instance.reload_every().map(|d| tokio::time::Instant::now() + d);
            }
            _ = hup.recv() => {
                // Ignored, as in CoreDNS: it is sometimes sent outside the operator's control.
            }
        }
    }
}

async fn shutdown(instance: &mut Instance, signame: &str) -> u8 {
    // /ready says 503 from now on, while DNS is still answered through any lameduck.
    plugin_api::server::set_shutting_down();
    let errors = instance.run_shutdown_hooks().await;
    for e in &errors {
        tracing::error!("{signame} shutdown: {e}");
    }
    instance.stop().await;
    if errors.is_empty() { 0 } else { 4 }
}

async fn reload(instance: &mut Instance) {
    if let Err(e) = instance.reload().await {
        tracing::error!("SIGUSR1: {e}");
    }
}
