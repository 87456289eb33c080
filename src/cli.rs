//! The command line: `run`, `backup`, `restore`, `factory-reset`. Sets up logging and the runtime,
//! wires signals to a clean shutdown, and prints what an operator at the console needs. Owns no
//! feature logic.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use crate::app::App;
use crate::config::{Cli, Command, Config};
use crate::store::{self, Store};

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(&cli.opts) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gatehouse: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config.log_level);
    let result = match cli.command {
        Command::Run => run(config),
        Command::Backup { file } => backup(&config, &file),
        Command::Restore { file, yes } => restore(&config, &file, yes),
        Command::FactoryReset { yes } => factory_reset(&config, yes),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gatehouse: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(level: &str) {
    let level = level.parse().unwrap_or(tracing::Level::INFO);
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}

type BoxError = Box<dyn std::error::Error>;

fn run(config: Config) -> Result<(), BoxError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(8)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let https_addr = config.https_addr;
        let sip_addr = config.sip_addr;
        let redirect = config.http_redirect_addr;
        let data_dir = config.data_dir.clone();
        let app = Arc::new(tokio::task::spawn_blocking(move || App::open(config)).await??);
        let listener = tokio::net::TcpListener::bind(https_addr)
            .await
            .map_err(|e| format!("cannot listen for HTTPS on {https_addr}: {e}"))?;
        let local = listener.local_addr()?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        if let Some(addr) = redirect {
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("cannot listen for the HTTP redirect on {addr}: {e}"))?;
            let mut rx = stop_rx.clone();
            tokio::spawn(async move {
                let stop = async move {
                    let _ = rx.wait_for(|s| *s).await;
                };
                if let Err(e) = crate::web::serve_redirect(l, local.port(), stop).await {
                    tracing::error!(error = %e, "HTTP redirect stopped");
                }
            });
        }
        let udp = tokio::net::UdpSocket::bind(sip_addr)
            .await
            .map_err(|e| format!("cannot listen for SIP on udp {sip_addr}: {e}"))?;
        let udp_local = udp.local_addr()?;
        tracing::info!("SIP listening on udp://{}", udp_local);
        let sip_task = {
            let mut secret = [0u8; 32];
            secret.copy_from_slice(&app.secret()[..32]);
            let mut cfg = crate::sip::core::CoreConfig::from_config(&app.config, secret, "gatehouse".into());
            cfg.udp_addr = udp_local;
            let core = crate::sip::service::start_core(&app, cfg).await?;
            let (_inbound_tx, inbound) = tokio::sync::mpsc::channel(crate::sip::service::INBOUND_QUEUE);
            let sockets = crate::sip::service::Sockets {
                udp,
                inbound,
                connections: Default::default(),
            };
            let mut rx = stop_rx.clone();
            tokio::spawn(crate::sip::service::run(app.clone(), core, sockets, async move {
                let _ = rx.wait_for(|s| *s).await;
            }))
        };
        let setup = if crate::accounts::setup_required(&app)? {
            " (first start: open it to create the administrator)"
        } else {
            ""
        };
        tracing::info!(
            version = crate::version::LONG,
            data_dir = %data_dir.display(),
            "Gatehouse listening on https://{}{}", local, setup
        );
        let host = if local.ip().is_unspecified() { "localhost".to_owned() } else { local.ip().to_string() };
        tracing::info!("open https://{}:{}/ in a browser (the certificate is self-signed until you upload one)", host, local.port());
        let shutdown = async move {
            shutdown_signal().await;
            tracing::info!("shutting down");
            let _ = stop_tx.send(true);
        };
        crate::web::serve(app.clone(), listener, shutdown, Duration::from_millis(1500)).await?;
        // The SIP service writes its pending bindings and records before it ends.
        let _ = tokio::time::timeout(Duration::from_secs(2), sip_task).await;
        // Every in-flight write has finished or been cut with its request; the store closes with
        // the last reference to `app`.
        drop(app);
        tracing::info!("stopped");
        Ok(())
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot watch SIGTERM");
            std::future::pending::<()>().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

fn store_path(config: &Config) -> std::path::PathBuf {
    config.data_dir.join(store::FILE_NAME)
}

fn backup(config: &Config, file: &std::path::Path) -> Result<(), BoxError> {
    store::backup_file(&store_path(config), file)?;
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    println!("backup written to {} ({size} bytes)", file.display());
    Ok(())
}

fn confirm(question: &str, word: &str) -> Result<bool, BoxError> {
    print!("{question}\nType \"{word}\" to go on: ");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim() == word)
}

fn restore(config: &Config, file: &std::path::Path, yes: bool) -> Result<(), BoxError> {
    let path = store_path(config);
    let s = Store::open(&path)?;
    // Check the backup before asking anything.
    store::check_backup(file)?;
    if !yes
        && !confirm(
            &format!(
                "This replaces every account, setting and record in {} with the backup {}.",
                path.display(),
                file.display()
            ),
            "restore",
        )?
    {
        println!("nothing changed");
        return Ok(());
    }
    s.restore_from(file)?;
    println!("restored {} into {}", file.display(), path.display());
    Ok(())
}

fn factory_reset(config: &Config, yes: bool) -> Result<(), BoxError> {
    let path = store_path(config);
    if !path.exists() {
        println!("no store at {}: nothing to reset", path.display());
        return Ok(());
    }
    let s = Store::open(&path)?;
    if !yes
        && !confirm(
            &format!(
                "This wipes every account, setting and record in {}, the HTTPS certificate and the seal key.",
                config.data_dir.display()
            ),
            "reset",
        )?
    {
        println!("nothing changed");
        return Ok(());
    }
    s.factory_reset()?;
    for dir in ["tls", "keys"] {
        let d = config.data_dir.join(dir);
        if d.exists() {
            std::fs::remove_dir_all(&d)?;
        }
    }
    println!("factory reset done: the next start leads to the setup page");
    Ok(())
}
