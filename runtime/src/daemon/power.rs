//! What a power action does to the machine (B0 "run end", the final actions of B69,
//! fencing of B16/B44).
//!
//! In: the node's [`PowerAction`], the [`FenceMode`] the daemon was started with and
//! whether the operating system itself asked the service to stop (SIGTERM: the OS is
//! already going down, so a clean power-off must not be asked for a second time).
//! Out: a [`Step`] ([`plan`], pure and tested), then [`carry_out`] does it.
//!
//! | action | `--fence=power` (production) | `--fence=exit` |
//! |---|---|---|
//! | clean / failure service stop | exit | exit |
//! | clean power-off / reboot | `systemctl poweroff` / `reboot` (nothing after SIGTERM) | exit |
//! | failure shutdown / reboot (groups already stopped) | `systemctl poweroff` / `reboot` | drop addresses, exit |
//! | emergency shutdown / reboot | `reboot(2)` POWER_OFF / RESTART at once, no sync | drop addresses, exit |
//! | panic | `echo c > /proc/sysrq-trigger` (kernel crash), else `reboot(2)` RESTART | drop addresses, exit |
//!
//! Emergency actions skip `sync` on purpose: a server fencing itself may have a hung
//! disk, and every second it stays up is a second two servers might write.

use baton_core::io::PowerAction;
use std::fmt;

/// How power actions are carried out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FenceMode {
    /// Really power off, reboot or crash the machine (production).
    #[default]
    Power,
    /// Behave as a powered-off server: drop the addresses, stop answering, exit
    /// (tests, demos, benchmarks in network namespaces).
    Exit,
}

impl std::str::FromStr for FenceMode {
    type Err = String;
    fn from_str(s: &str) -> Result<FenceMode, String> {
        match s {
            "power" => Ok(FenceMode::Power),
            "exit" => Ok(FenceMode::Exit),
            other => Err(format!("unknown fence mode {other:?}: use `power` (production) or `exit` (tests, demos)")),
        }
    }
}

impl fmt::Display for FenceMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FenceMode::Power => "power",
            FenceMode::Exit => "exit",
        })
    }
}

/// The kernel's immediate power commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Immediate {
    PowerOff,
    Restart,
}

/// What the daemon does at the end of its run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Drop every address first (the machine must stop answering for it at once).
    pub release: bool,
    pub machine: Machine,
}

/// What happens to the machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Machine {
    /// Nothing: the daemon exits.
    Untouched,
    /// An orderly shutdown through the init system (`systemctl ARG`).
    Orderly(&'static str),
    /// `reboot(2)` at once.
    Immediate(Immediate),
    /// A kernel crash through sysrq, `reboot(2)` RESTART if that fails.
    Panic,
}

/// The step for power action `p`.
pub fn plan(p: PowerAction, mode: FenceMode, os_shutting_down: bool) -> Step {
    let unclean = !p.is_clean();
    let machine = match mode {
        FenceMode::Exit => Machine::Untouched,
        FenceMode::Power => match p {
            PowerAction::CleanServiceStop | PowerAction::FailureServiceStop => Machine::Untouched,
            PowerAction::CleanPowerOff if os_shutting_down => Machine::Untouched,
            PowerAction::CleanReboot if os_shutting_down => Machine::Untouched,
            PowerAction::CleanPowerOff | PowerAction::FailureShutdown => Machine::Orderly("poweroff"),
            PowerAction::CleanReboot | PowerAction::FailureReboot => Machine::Orderly("reboot"),
            PowerAction::EmergencyShutdown => Machine::Immediate(Immediate::PowerOff),
            PowerAction::EmergencyReboot => Machine::Immediate(Immediate::Restart),
            PowerAction::Panic => Machine::Panic,
        },
    };
    Step { release: unclean, machine }
}

/// B130 6: whether, after carrying out `p`, the daemon waits for the machine to power
/// off (and resets it at the node's stall limit). Only for OS shutdowns and reboots the
/// daemon itself asked for on a real machine: under `--fence=exit` the daemon's exit is
/// the power-off, and once the OS has told the service to stop (`os_shutting_down`,
/// SIGTERM) the shutdown waits for this process to exit, so it must not stay.
pub fn watch_power_off(p: PowerAction, mode: FenceMode, os_shutting_down: bool) -> bool {
    let os_shutdown = p.is_os_shutdown();
    os_shutdown && mode == FenceMode::Power && !os_shutting_down
}

/// Does what `step` says to the machine (the release is the loop's, before this).
/// Returns only if the machine is untouched or the request failed (the reason).
#[cfg(not(madsim))]
pub fn carry_out(machine: &Machine) -> Result<(), String> {
    use rustix::system::{reboot, RebootCommand};
    match machine {
        Machine::Untouched => Ok(()),
        Machine::Orderly(arg) => {
            let status = std::process::Command::new("systemctl")
                .arg(arg)
                .status()
                .map_err(|e| format!("systemctl {arg}: {e}"))?;
            if status.success() {
                Ok(())
            } else {
                Err(format!("systemctl {arg}: {status}"))
            }
        }
        Machine::Immediate(Immediate::PowerOff) => {
            reboot(RebootCommand::PowerOff).map_err(|e| format!("reboot(POWER_OFF): {e}"))
        }
        Machine::Immediate(Immediate::Restart) => {
            reboot(RebootCommand::Restart).map_err(|e| format!("reboot(RESTART): {e}"))
        }
        Machine::Panic => {
            let crash = std::fs::write("/proc/sysrq-trigger", b"c");
            // Still here: sysrq is disabled or refused; restart instead.
            let restart = reboot(RebootCommand::Restart);
            Err(format!("sysrq crash: {crash:?}; reboot(RESTART): {restart:?}"))
        }
    }
}

/// Under madsim the machine is simulated: nothing to do.
#[cfg(madsim)]
pub fn carry_out(_machine: &Machine) -> Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [PowerAction; 9] = [
        PowerAction::CleanPowerOff,
        PowerAction::CleanReboot,
        PowerAction::CleanServiceStop,
        PowerAction::FailureServiceStop,
        PowerAction::FailureShutdown,
        PowerAction::FailureReboot,
        PowerAction::EmergencyShutdown,
        PowerAction::EmergencyReboot,
        PowerAction::Panic,
    ];

    #[test]
    fn exit_mode_never_touches_the_machine_and_releases_after_unclean_ends() {
        for p in ALL {
            let step = plan(p, FenceMode::Exit, false);
            assert_eq!(step.machine, Machine::Untouched, "{p:?}");
            assert_eq!(step.release, !p.is_clean(), "{p:?}");
        }
    }

    #[test]
    fn only_os_shutdowns_of_a_real_machine_are_watched_for_a_stall() {
        for p in ALL {
            let os = matches!(
                p,
                PowerAction::CleanPowerOff
                    | PowerAction::CleanReboot
                    | PowerAction::FailureShutdown
                    | PowerAction::FailureReboot
            );
            assert_eq!(watch_power_off(p, FenceMode::Power, false), os, "{p:?}");
            assert!(!watch_power_off(p, FenceMode::Exit, false), "{p:?}: the exit is the power-off");
            assert!(!watch_power_off(p, FenceMode::Power, true), "{p:?}: the OS waits for this process");
        }
    }

    #[test]
    fn power_mode_maps_every_action() {
        let m = |p| plan(p, FenceMode::Power, false).machine;
        assert_eq!(m(PowerAction::CleanServiceStop), Machine::Untouched);
        assert_eq!(m(PowerAction::FailureServiceStop), Machine::Untouched);
        assert_eq!(m(PowerAction::CleanPowerOff), Machine::Orderly("poweroff"));
        assert_eq!(m(PowerAction::FailureShutdown), Machine::Orderly("poweroff"));
        assert_eq!(m(PowerAction::CleanReboot), Machine::Orderly("reboot"));
        assert_eq!(m(PowerAction::FailureReboot), Machine::Orderly("reboot"));
        assert_eq!(m(PowerAction::EmergencyShutdown), Machine::Immediate(Immediate::PowerOff));
        assert_eq!(m(PowerAction::EmergencyReboot), Machine::Immediate(Immediate::Restart));
        assert_eq!(m(PowerAction::Panic), Machine::Panic);
        assert!(plan(PowerAction::Panic, FenceMode::Power, false).release);
    }

    #[test]
    fn a_clean_end_asked_by_the_os_does_not_power_off_again() {
        assert_eq!(plan(PowerAction::CleanPowerOff, FenceMode::Power, true).machine, Machine::Untouched);
        assert_eq!(plan(PowerAction::CleanReboot, FenceMode::Power, true).machine, Machine::Untouched);
        // A failure during the OS shutdown still fences.
        assert_eq!(
            plan(PowerAction::EmergencyShutdown, FenceMode::Power, true).machine,
            Machine::Immediate(Immediate::PowerOff)
        );
    }

    #[test]
    fn fence_modes_parse() {
        assert_eq!("exit".parse::<FenceMode>(), Ok(FenceMode::Exit));
        assert_eq!("power".parse::<FenceMode>(), Ok(FenceMode::Power));
        assert!("reboot".parse::<FenceMode>().unwrap_err().contains("use `power`"));
    }
}
