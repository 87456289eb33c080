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
        crate::serial::service::start(&app);
        let (udp, tcp) = bind_sip(sip_addr).await?;
        let udp_local = udp.local_addr()?;
        tracing::info!("SIP listening on udp://{}", udp_local);
        let tcp_local = tcp.local_addr()?;
        tracing::info!("SIP listening on tcp://{}", tcp_local);
        let sips_addr = app.config.sips_addr;
        let tls_listener = tokio::net::TcpListener::bind(sips_addr)
            .await
            .map_err(|e| format!("cannot listen for SIP on tls {sips_addr}: {e}"))?;
        let tls_local = tls_listener.local_addr()?;
        tracing::info!("SIP listening on tls://{}", tls_local);
        let sip_task = {
            let mut secret = [0u8; 32];
            secret.copy_from_slice(&app.secret()[..32]);
            let mut cfg = crate::sip::core::CoreConfig::from_config(&app.config, secret, "gatehouse".into());
            cfg.udp_addr = udp_local;
            cfg.tcp_addr = tcp_local;
            cfg.tls_addr = tls_local;
            let core = crate::sip::service::start_core(&app, cfg).await?;
            let (inbound_tx, inbound) = tokio::sync::mpsc::channel(crate::sip::service::INBOUND_QUEUE);
            let connections = crate::sip::service::Connections::default();
            let streams = crate::sip::stream::Streams::new(
                inbound_tx,
                connections.clone(),
                app.config.sip_max_connections,
                crate::sip::stream::Streams::idle_for(app.config.sip_max_expires),
            );
            let tls = tokio_rustls::TlsAcceptor::from(Arc::new(app.certs.server_config(&[])?));
            for (listener, tls) in [(tcp, None), (tls_listener, Some(tls))] {
                let mut rx = stop_rx.clone();
                tokio::spawn(streams.clone().serve(listener, tls, async move {
                    let _ = rx.wait_for(|s| *s).await;
                }));
            }
            let sockets = crate::sip::service::Sockets {
                udp,
                inbound,
                connections,
                streams: Some(streams),
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

/// Binds SIP over UDP and TCP on the same address and port. With port 0 (tests) UDP picks a free
/// port and TCP takes the same one; if that port is taken for TCP, another is tried.
async fn bind_sip(
    addr: std::net::SocketAddr,
) -> Result<(tokio::net::UdpSocket, tokio::net::TcpListener), BoxError> {
    let attempts = if addr.port() == 0 { 20 } else { 1 };
    let mut last = String::new();
    for _ in 0..attempts {
        let udp = tokio::net::UdpSocket::bind(addr)
            .await
            .map_err(|e| format!("cannot listen for SIP on udp {addr}: {e}"))?;
        let port = udp.local_addr()?.port();
        let tcp_addr = std::net::SocketAddr::new(addr.ip(), port);
        match tokio::net::TcpListener::bind(tcp_addr).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last = format!("cannot listen for SIP on tcp {tcp_addr}: {e}"),
        }
    }
    Err(last.into())
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
