//! `vigie-agent service run`: the daemon (`run`) under the Windows Service Control Manager.
//!
//! The MSI (`deploy/windows/vigie-agent.wxs`) registers the service `VigieAgent` (LocalSystem,
//! automatic start) with the command line `"…\vigie-agent.exe" service run`. The SCM starts that
//! process, which hands its main thread to the service dispatcher; the dispatcher calls
//! [`service_main`], which reports `Running`, runs the same loop as `vigie-agent run` with the
//! configuration at `%ProgramData%\Vigie\agent.toml`, and turns the SCM's Stop and Shutdown controls
//! into the daemon's stop request ([`stop_requested`]), so the spool is left consistent exactly as on
//! SIGTERM. The exit status goes back to the SCM as the service-specific exit code (75: reports
//! still spooled, 3: the daemon failed). Installing and removing the service is the MSI's job
//! (`ServiceInstall`/`ServiceControl`); there is no `service install` subcommand.

use std::ffi::OsString;
use std::sync::OnceLock;
use std::time::Duration;

use windows_service::service::{
    ServiceControl, ServiceControlAccept, ServiceExitCode, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::{define_windows_service, service_dispatcher};

/// The service's name in the SCM (the MSI's `ServiceInstall/@Name`).
pub const SERVICE_NAME: &str = "VigieAgent";

/// Set by the control handler on Stop/Shutdown; awaited by the daemon beside the console's
/// shutdown event.
fn stop() -> &'static tokio::sync::Notify {
    static STOP: OnceLock<tokio::sync::Notify> = OnceLock::new();
    STOP.get_or_init(tokio::sync::Notify::new)
}

/// Resolves once the SCM asked the service to stop (never outside the service).
pub async fn stop_requested() {
    stop().notified().await
}

/// What `service run` executes once the SCM has started it: the daemon's exit code.
type Body = fn() -> u32;
static BODY: OnceLock<Body> = OnceLock::new();

define_windows_service!(ffi_service_main, service_main);

/// Hand this thread to the service dispatcher; returns when the service stopped. Fails when the
/// process was not started by the SCM (e.g. `service run` typed in a console).
pub fn run_dispatcher(body: Body) -> anyhow::Result<()> {
    let _ = BODY.set(body);
    service_dispatcher::start(SERVICE_NAME, ffi_service_main).map_err(|e| {
        anyhow::anyhow!(
            "cannot reach the Service Control Manager ({e}): `service run` is started by Windows \
             as the {SERVICE_NAME} service; in a console use `vigie-agent run`"
        )
    })
}

fn status(state: ServiceState, exit: u32) -> ServiceStatus {
    ServiceStatus {
        service_type: ServiceType::OWN_PROCESS,
        current_state: state,
        controls_accepted: if state == ServiceState::Running {
            ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN
        } else {
            ServiceControlAccept::empty()
        },
        exit_code: if exit == 0 {
            ServiceExitCode::Win32(0)
        } else {
            ServiceExitCode::ServiceSpecific(exit)
        },
        checkpoint: 0,
        wait_hint: Duration::from_secs(if state == ServiceState::StopPending {
            30
        } else {
            0
        }),
        process_id: None,
    }
}

fn service_main(_args: Vec<OsString>) {
    let handler = |control| match control {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            stop().notify_one();
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let handle = match service_control_handler::register(SERVICE_NAME, handler) {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "cannot register the service control handler");
            return;
        }
    };
    if let Err(e) = handle.set_service_status(status(ServiceState::Running, 0)) {
        tracing::error!(error = %e, "cannot report the service as running");
    }
    let code = BODY.get().map_or(3, |body| body());
    if let Err(e) = handle.set_service_status(status(ServiceState::Stopped, code)) {
        tracing::error!(error = %e, "cannot report the service as stopped");
    }
}
