//! disk_encryption on macOS (placeholder while it is written).

use crate::{CheckResult, Context, Platform};

pub(super) fn run(_ctx: &Context) -> CheckResult {
    crate::platform::unsupported("disk_encryption", Platform::Macos)
}
