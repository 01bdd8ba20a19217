//! `vigie-collector feed-token create|list|revoke`: the read-only feed tokens of
//! `/api/v1/feed-tokens` from the command line, on the store directly (docs/api.md "Feed tokens").

use std::process::ExitCode;

use clap::Subcommand;

use crate::admin::Format;
use crate::config::CollectorConfig;
use crate::kpi::render::table;
use crate::store::{feed_tokens, Store};

/// `vigie-collector feed-token …`
#[derive(Debug, Subcommand)]
pub enum FeedTokenCommand {
    /// Create a token and print it (the only time it is shown; the store keeps its SHA-256).
    Create {
        /// What it is for, e.g. the feed reader's name.
        name: String,
    },
    /// List the tokens (never the tokens themselves).
    List {
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Revoke a token: it stops working at once.
    Revoke {
        /// Token id (see `feed-token list`).
        id: i64,
    },
}

/// Run one command; 0 done, 1 refused or failed, 2 bad arguments.
pub fn run(cfg: &CollectorConfig, cmd: FeedTokenCommand) -> ExitCode {
    if let FeedTokenCommand::Create { name } = &cmd {
        let n = name.trim();
        if n.is_empty() || n.len() > 256 || n.chars().any(vigie_checks::wire::is_forbidden_char) {
            eprintln!(
                "vigie-collector: feed-token create: NAME must be one line of 1 to 256 bytes \
                 without control characters"
            );
            return ExitCode::from(2);
        }
    }
    let db = cfg.database_path();
    let store = match Store::open(&db, cfg.storage.max_batch) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "vigie-collector: cannot open the store {}: {e}",
                db.display()
            );
            return ExitCode::from(1);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("vigie-collector: cannot start runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let now = crate::store::now_unix();
    let result: Result<(), String> = match cmd {
        FeedTokenCommand::Create { name } => match crate::auth::new_feed_token() {
            Err(e) => Err(e.to_string()),
            Ok(token) => {
                let hash = crate::auth::hash_secret(&token);
                let n = name.trim().to_string();
                rt.block_on(store.write(move |c| feed_tokens::create(c, &n, &hash, now)))
                    .map(|id| {
                        eprintln!("feed token {id} created; it is shown only now:");
                        println!("{token}");
                    })
                    .map_err(|e| e.to_string())
            }
        },
        FeedTokenCommand::List { format } => store
            .read(feed_tokens::list)
            .map_err(|e| e.to_string())
            .and_then(|list| match format {
                Format::Json => {
                    serde_json::to_string_pretty(&serde_json::json!({ "feed_tokens": list }))
                        .map(|s| println!("{s}"))
                        .map_err(|e| e.to_string())
                }
                Format::Table => {
                    let rows: Vec<Vec<String>> = list
                        .iter()
                        .map(|t| {
                            vec![
                                t.id.to_string(),
                                t.name.clone(),
                                t.created_at.clone(),
                                t.revoked_at.clone().unwrap_or("-".into()),
                            ]
                        })
                        .collect();
                    print!("{}", table(&["ID", "NAME", "CREATED", "REVOKED"], &rows));
                    Ok(())
                }
            }),
        FeedTokenCommand::Revoke { id } => {
            match rt.block_on(store.write(move |c| feed_tokens::revoke(c, id, now))) {
                Ok(true) => {
                    println!("feed token {id} revoked");
                    Ok(())
                }
                Ok(false) => Err(format!("no feed token with id {id}")),
                Err(e) => Err(e.to_string()),
            }
        }
    };
    store.shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vigie-collector: feed-token: {e}");
            ExitCode::from(1)
        }
    }
}
