//! CIS Controls v8.1 safeguards that Vigie's checks evidence, with implementation groups and our own
//! short titles (the CIS text is licensed CC BY-NC-ND; only the IDs are CIS's).

/// One CIS safeguard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Safeguard {
    /// e.g. `"3.11"`.
    pub id: &'static str,
    /// Lowest implementation group that includes it (1, 2 or 3).
    pub ig: u8,
    /// Our own short title.
    pub title: &'static str,
}

/// Safeguards referenced by the agent's checks.
pub static SAFEGUARDS: &[Safeguard] = &[
    Safeguard {
        id: "1.1",
        ig: 1,
        title: "Keep a detailed enterprise asset inventory",
    },
    Safeguard {
        id: "2.1",
        ig: 1,
        title: "Keep a software inventory",
    },
    Safeguard {
        id: "3.6",
        ig: 1,
        title: "Encrypt data on end-user devices",
    },
    Safeguard {
        id: "3.11",
        ig: 2,
        title: "Encrypt sensitive data at rest",
    },
    Safeguard {
        id: "4.1",
        ig: 1,
        title: "Run a secure configuration process",
    },
    Safeguard {
        id: "4.3",
        ig: 1,
        title: "Lock idle sessions automatically",
    },
    Safeguard {
        id: "4.4",
        ig: 1,
        title: "Run and manage a firewall on servers",
    },
    Safeguard {
        id: "4.5",
        ig: 1,
        title: "Run and manage a firewall on end-user devices",
    },
    Safeguard {
        id: "5.2",
        ig: 1,
        title: "Use unique, strong passwords",
    },
    Safeguard {
        id: "6.3",
        ig: 1,
        title: "Require MFA for externally exposed applications",
    },
    Safeguard {
        id: "6.4",
        ig: 1,
        title: "Require MFA for remote network access",
    },
    Safeguard {
        id: "6.5",
        ig: 1,
        title: "Require MFA for administrative access",
    },
    Safeguard {
        id: "7.3",
        ig: 1,
        title: "Automate operating system patching",
    },
    Safeguard {
        id: "7.4",
        ig: 1,
        title: "Automate application patching",
    },
    Safeguard {
        id: "7.7",
        ig: 2,
        title: "Remediate detected vulnerabilities",
    },
    Safeguard {
        id: "10.1",
        ig: 1,
        title: "Install and maintain anti-malware",
    },
    Safeguard {
        id: "10.2",
        ig: 1,
        title: "Update anti-malware signatures automatically",
    },
    Safeguard {
        id: "11.1",
        ig: 1,
        title: "Keep a data recovery process",
    },
    Safeguard {
        id: "11.2",
        ig: 1,
        title: "Run automated backups",
    },
    Safeguard {
        id: "11.3",
        ig: 1,
        title: "Protect recovery data",
    },
];

/// The safeguard with this id.
pub fn safeguard(id: &str) -> Option<&'static Safeguard> {
    SAFEGUARDS.iter().find(|s| s.id == id)
}
