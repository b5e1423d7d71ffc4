//! `sf-sandbox`: runs the Shopping Feed API sandbox on 127.0.0.1 until
//! SIGTERM/SIGINT or `POST /_sandbox/shutdown`.

use std::future::Future;
use std::io::Write;
use std::process::ExitCode;

use sfsandbox::{Config, Sandbox};

const USAGE: &str = "\
usage: sf-sandbox [--port N] [--token T]... [--store ID]... [--latency-ms N] [--ticket-delay-ms N]

Serves a local Shopping Feed API sandbox on 127.0.0.1 (never another address).
  --port N             port to bind, 0 (default) picks a free one
  --token T            accepted bearer token (repeatable; default sandbox-token)
  --store ID           store id of the account (repeatable; default 42)
  --latency-ms N       delay before answering every /v1 request (default 0)
  --ticket-delay-ms N  time for a ticket to become final (default 0)
  --host 127.0.0.1     accepted for clarity; any other address is refused
Prints `listening on http://127.0.0.1:PORT` once bound.";

fn parse_args(args: Vec<String>) -> Result<Config, String> {
    let mut cfg = Config::default();
    let mut tokens = Vec::new();
    let mut stores = Vec::new();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        let num = |v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag}: not a non-negative integer: {v}"))
        };
        match flag.as_str() {
            "--port" => {
                let v = value()?;
                cfg.port = v
                    .parse()
                    .map_err(|_| format!("--port: invalid port: {v}"))?;
            }
            "--token" => {
                let v = value()?;
                if v.is_empty() {
                    return Err("--token: empty token".into());
                }
                tokens.push(v);
            }
            "--store" => {
                let v = value()?;
                stores.push(v.parse().map_err(|_| format!("--store: invalid id: {v}"))?);
            }
            "--latency-ms" => cfg.latency_ms = num(value()?)?,
            "--ticket-delay-ms" => cfg.ticket_delay_ms = num(value()?)?,
            "--host" | "--bind" => {
                let v = value()?;
                if v != "127.0.0.1" && v != "localhost" {
                    return Err(format!(
                        "{flag} {v}: refused, the sandbox listens on 127.0.0.1 only"
                    ));
                }
            }
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    if !tokens.is_empty() {
        cfg.tokens = tokens;
    }
    if !stores.is_empty() {
        cfg.store_ids = stores;
    }
    Ok(cfg)
}

fn main() -> ExitCode {
    let cfg = match parse_args(std::env::args().skip(1).collect()) {
        Ok(c) => c,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("sf-sandbox: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sf-sandbox: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let sb = match Sandbox::start(cfg).await {
            Ok(sb) => sb,
            Err(e) => {
                eprintln!("sf-sandbox: cannot listen: {e}");
                return ExitCode::FAILURE;
            }
        };
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "listening on {}", sb.url());
            let _ = out.flush();
        }
        use tokio::signal::unix::{signal, SignalKind};
        let (mut term, mut int) = match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(t), Ok(i)) => (t, i),
            _ => {
                eprintln!("sf-sandbox: cannot install signal handlers");
                return ExitCode::FAILURE;
            }
        };
        {
            let signals = async {
                let mut t = std::pin::pin!(term.recv());
                let mut i = std::pin::pin!(int.recv());
                std::future::poll_fn(|cx| {
                    if t.as_mut().poll(cx).is_ready() || i.as_mut().poll(cx).is_ready() {
                        std::task::Poll::Ready(())
                    } else {
                        std::task::Poll::Pending
                    }
                })
                .await
            };
            let requested = sb.shutdown_requested();
            let mut s = std::pin::pin!(signals);
            let mut r = std::pin::pin!(requested);
            std::future::poll_fn(|cx| {
                if s.as_mut().poll(cx).is_ready() || r.as_mut().poll(cx).is_ready() {
                    std::task::Poll::Ready(())
                } else {
                    std::task::Poll::Pending
                }
            })
            .await;
        }
        sb.stop().await;
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_flags() {
        let c = parse_args(args(
            "--port 0 --token a --token=b --store 1 --store 2 --latency-ms 5 --ticket-delay-ms=7",
        ))
        .unwrap();
        assert_eq!(c.port, 0);
        assert_eq!(c.tokens, vec!["a", "b"]);
        assert_eq!(c.store_ids, vec![1, 2]);
        assert_eq!((c.latency_ms, c.ticket_delay_ms), (5, 7));
        let d = parse_args(vec![]).unwrap();
        assert_eq!(d.tokens, vec!["sandbox-token"]);
    }

    #[test]
    fn refuses_other_hosts() {
        assert!(parse_args(args("--host 0.0.0.0")).is_err());
        assert!(parse_args(args("--host 127.0.0.1")).is_ok());
        assert!(parse_args(args("--bogus")).is_err());
        assert!(parse_args(args("--port")).is_err());
    }
}
