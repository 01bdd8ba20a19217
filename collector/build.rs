//! Build metadata for `vigie_build_info`: the compiler's version (`VIGIE_BUILD_RUSTC`). The commit
//! comes from the environment (`VIGIE_BUILD_COMMIT`, set by scripts/package.sh), read with
//! `option_env!` so that changing it rebuilds.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    if let Ok(out) = std::process::Command::new(rustc).arg("--version").output() {
        if out.status.success() {
            let v = String::from_utf8_lossy(&out.stdout);
            // "rustc 1.95.0 (59807616e 2026-04-14)" -> "1.95.0"
            if let Some(version) = v.split_whitespace().nth(1) {
                println!("cargo:rustc-env=VIGIE_BUILD_RUSTC={version}");
            }
        }
    }
}
