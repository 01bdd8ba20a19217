//! `vigie-wire-bytes`: bytes on the wire for the real agent's reports (issue 16 item 1).
//!
//! For each fixture host, runs `vigie-agent check --root <fixture> --format json` (the agent
//! binary next to this one) and prints, raw and compressed, the schema 1 full report, the schema 2
//! report when nothing changed, and the schema 2 report when one check (the one with the most
//! evidence) changed its summary. The delta encoding is the agent's own
//! (`vigie_checks::wire::Acked`); gzip at flate2's default level (what the agent sends), and zstd at
//! level 3 for comparison.
//!
//! `cargo build --release --workspace --bins && target/release/vigie-wire-bytes`

use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;

use clap::Parser;
use vigie_checks::wire::{Acked, Report, WireReport};

#[derive(Parser)]
#[command(about = "Bytes on the wire: full (v1) vs delta (v2) reports, raw and compressed")]
struct Args {
    /// Fixture hosts (names under tests/fixtures/hosts/).
    #[arg(long = "fixture", default_values_t = [
        "debian12-stock-cloud-image".to_string(),
        "debian12-mfa-duo-failmode-safe".to_string(),
        "debian12-baseline".to_string(),
    ])]
    fixtures: Vec<String>,
    /// The agent binary (default: `vigie-agent` next to this binary).
    #[arg(long)]
    agent: Option<PathBuf>,
}

fn zstd3(b: &[u8]) -> usize {
    zstd::bulk::compress(b, 3).expect("zstd").len()
}

fn gzip(b: &[u8]) -> usize {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).expect("gzip");
    e.finish().expect("gzip").len()
}

fn body(w: &WireReport) -> Vec<u8> {
    serde_json::to_vec(w).expect("serialise")
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let agent = match args.agent {
        Some(a) => a,
        None => std::env::current_exe()?
            .parent()
            .expect("binary directory")
            .join("vigie-agent"),
    };
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/hosts");
    println!("| fixture | report | checks sent in full | raw bytes | zstd bytes | gzip bytes |");
    println!("|---|---|---|---:|---:|---:|");
    let mut worst_unchanged = 0;
    for name in &args.fixtures {
        let empty = tempfile::NamedTempFile::new()?;
        let out = Command::new(&agent)
            .args([
                "--config",
                empty.path().to_str().unwrap(),
                "check",
                "--format",
                "json",
            ])
            .arg("--root")
            .arg(fixtures.join(name))
            .output()?;
        let report: Report = serde_json::from_slice(&out.stdout).map_err(|e| {
            anyhow::anyhow!(
                "{name}: the agent's output is not a report ({e}): {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
        let v1 = serde_json::to_vec(&report)?;
        let mut acked = Acked::default();
        let first = acked.encode(&report, true);
        acked.acknowledge(&report, &first);

        let mut next = report.clone();
        next.report_id = uuid::Uuid::new_v4().to_string();
        next.collected_at += chrono::Duration::hours(1);
        let unchanged = acked.encode(&next, false);

        let mut changed = next.clone();
        if let Some(r) = changed.results.iter_mut().max_by_key(|r| r.evidence.len()) {
            r.summary.push_str(" (changed)");
        }
        let one = acked.encode(&changed, false);

        let full_count = |w: &WireReport| {
            w.results
                .iter()
                .filter(|e| matches!(e, vigie_checks::wire::WireEntry::Full(_)))
                .count()
        };
        let n = report.results.len();
        let rows = [
            ("v1 full", v1.clone(), n),
            ("v2 first (full)", body(&first), full_count(&first)),
            ("v2 unchanged", body(&unchanged), full_count(&unchanged)),
            ("v2 one check changed", body(&one), full_count(&one)),
        ];
        for (what, b, full) in rows {
            let z = zstd3(&b);
            let g = gzip(&b);
            if what == "v2 unchanged" {
                worst_unchanged = worst_unchanged.max(g);
            }
            println!("| {name} | {what} | {full}/{n} | {} | {z} | {g} |", b.len());
        }
    }
    println!();
    println!(
        "largest unchanged report on the wire (gzip, as the agent sends it): {worst_unchanged} bytes (target ≤ 1024: {})",
        if worst_unchanged <= 1024 {
            "met"
        } else {
            "missed"
        }
    );
    Ok(())
}
