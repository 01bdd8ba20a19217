//! The report's message catalogue: every label in French and English, month names, and the number,
//! duration and date formats of each language. French is the default (the manual is French).
//! One enum variant per message, so a missing translation is a compile error, not a blank.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

/// The report's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Français (default).
    Fr,
    /// English.
    En,
}

impl Lang {
    /// The ISO 639-1 code (file names, `<html lang>`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }
}

macro_rules! messages {
    ($($name:ident => $fr:expr, $en:expr;)*) => {
        /// A label of the report.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Msg { $(#[allow(missing_docs)] $name,)* }
        impl Msg {
            /// The label in `lang`.
            pub fn text(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $((Msg::$name, Lang::Fr) => $fr, (Msg::$name, Lang::En) => $en,)*
                }
            }
        }
    };
}

messages! {
    Title => "Rapport mensuel de sécurité", "Monthly security report";
    Draft => "Mois en cours : rapport provisoire, arrêté au", "Month in progress: draft report, as of";
    Period => "Période", "Period";
    SummaryHeading => "Synthèse pour la direction", "Summary for management";
    KeyPoints => "Points d'attention", "Points of attention";
    NothingToFlag => "Aucun point d'attention : tous les indicateurs mesurés atteignent leur cible.", "Nothing to flag: every measured indicator meets its target.";
    Fleet => "Parc", "Fleet";
    HostsEnrolled => "postes enrôlés", "hosts enrolled";
    HostsReported => "ont fait au moins un rapport dans le mois", "reported at least once in the month";
    IndicatorsHeading => "Indicateurs de maturité", "Maturity indicators";
    Indicator => "Indicateur", "Indicator";
    Value => "Valeur", "Value";
    Target => "Cible", "Target";
    Status => "Statut", "Status";
    PreviousMonth => "Mois précédent", "Previous month";
    Change => "Évolution", "Change";
    Trend12 => "Tendance sur 12 mois", "12-month trend";
    Source => "Source", "Source";
    SourceSnapshot => "instantané du", "snapshot of";
    SourceRegisters => "registres, recalculé au", "registers, recomputed at";
    SourceNoSnapshot => "aucun instantané dans le mois", "no snapshot in the month";
    Month => "Mois", "Month";
    KpiPatchSla => "Taux de mise à jour (correctifs dans le délai)", "Patch rate (updates within the SLA)";
    KpiTraining => "Couverture des formations de sensibilisation", "Security awareness training coverage";
    KpiMttd => "Délai moyen de détection (MTTD)", "Mean time to detect (MTTD)";
    KpiMttr => "Délai moyen de traitement (MTTR)", "Mean time to resolve (MTTR)";
    KpiCis => "Score de maturité CIS Controls", "CIS Controls maturity score";
    KpiDuty => "Notifications dans les 72 heures", "Notifications within 72 hours";
    StatusMet => "atteint", "met";
    StatusNotMet => "non atteint", "not met";
    StatusNoData => "pas de donnée", "no data";
    StatusNoTarget => "sans cible", "no target";
    IncidentsHeading => "Incidents du mois", "Incidents of the month";
    IncidentsDetected => "détectés", "detected";
    IncidentsResolved => "résolus", "resolved";
    IncidentsOpen => "ouverts en fin de mois", "open at the end of the month";
    NoIncident => "Aucun incident détecté, résolu ou ouvert dans le mois.", "No incident detected, resolved or open in the month.";
    Id => "Réf.", "Id";
    IncidentTitle => "Intitulé", "Title";
    Severity => "Gravité", "Severity";
    Detected => "Détecté", "Detected";
    Resolved => "Résolu", "Resolved";
    Ttd => "Détection", "Detection";
    Ttr => "Traitement", "Resolution";
    Notification72h => "Notification 72 h", "72-hour notification";
    ResponseTimes => "Délais de détection et de traitement (incidents résolus dans le mois)", "Detection and resolution times (incidents resolved in the month)";
    Mean => "moyenne", "mean";
    Count => "nombre", "count";
    Overall => "Ensemble", "Overall";
    DutyHeading => "Obligation de notification sous 72 heures (données personnelles)", "72-hour notification duty (personal data)";
    NoDuty => "Aucun incident impliquant des données personnelles.", "No incident involving personal data.";
    Deadline => "Échéance", "Deadline";
    StillOpen => "en cours", "open";
    CisHeading => "Score CIS Controls v8.1 par contrôle", "CIS Controls v8.1 score per control";
    CisNoSnapshot => "Aucun instantané CIS dans le mois : le score ne peut pas être reconstitué après coup.", "No CIS snapshot in the month: the score cannot be rebuilt afterwards.";
    Control => "Contrôle", "Control";
    Score => "Score", "Score";
    Assessed => "Évalués", "Assessed";
    ImplementationGroup => "Groupe d'implémentation", "Implementation group";
    RisksHeading => "Principaux risques et évolutions", "Top risks and what changed";
    ActionsHeading => "Plan d'amélioration (P1 / P2 / P3)", "Improvement plan (P1 / P2 / P3)";
    ExceptionsHeading => "Dérogations actives et arrivant à échéance", "Exceptions active and expiring";
    HlHighRisks => "risque(s) ouvert(s) de niveau élevé ou critique", "open risk(s) at level high or critical";
    HlP1Overdue => "action(s) P1 en retard", "P1 action(s) overdue";
    HlExpiring => "dérogation(s) expirant dans les 30 jours", "exception(s) expiring within 30 days";
    OpenRisksByLevel => "Risques ouverts par niveau", "Open risks by level";
    TopRisks => "Principaux risques ouverts", "Top open risks";
    NoOpenRisk => "Aucun risque ouvert en fin de mois.", "No open risk at the end of the month.";
    RiskChanges => "Évolutions du mois", "Changes in the month";
    NoRiskChange => "Aucune modification du registre des risques dans le mois.", "No change to the risk register in the month.";
    Level => "Niveau", "Level";
    LevelBefore => "Niveau en début de mois", "Level at the start of the month";
    NewRisk => "nouveau", "new";
    Likelihood => "Vraisemblance", "Likelihood";
    Impact => "Impact", "Impact";
    Owner => "Responsable", "Owner";
    ReviewOverdue => "revue en retard", "review overdue";
    When => "Date", "When";
    Who => "Auteur", "Who";
    WhatChanged => "Modifications", "What changed";
    Note => "Motif", "Note";
    Priority => "Priorité", "Priority";
    Planned => "Prévues", "Planned";
    Done => "Réalisées", "Done";
    DoneInMonth => "Réalisées dans le mois", "Done in the month";
    OpenNotDue => "En cours (dans les délais)", "Open (not yet due)";
    Overdue => "En retard", "Overdue";
    Progress => "Avancement", "Progress";
    OverdueActions => "Actions en retard", "Overdue actions";
    DoneActions => "Actions réalisées dans le mois", "Actions done in the month";
    Due => "Échéance", "Due";
    ExceptionsCounts => "actives · expirant sous 30 jours · accordées dans le mois · expirées dans le mois · révoquées dans le mois", "active · expiring within 30 days · granted in the month · expired in the month · revoked in the month";
    NoException => "Aucune dérogation en vigueur en fin de mois.", "No exception in force at the end of the month.";
    Scope => "Périmètre", "Scope";
    Reason => "Motif", "Reason";
    Approver => "Approbateur", "Approver";
    Expires => "Expire le", "Expires";
    ExcActive => "active", "active";
    ExcExpiring => "expire bientôt", "expiring";
    LvLow => "faible", "low";
    LvMedium => "moyen", "medium";
    LvHigh => "élevé", "high";
    LvCritical => "critique", "critical";
    Fleet2 => "tout le parc", "whole fleet";
    CoverageHeading => "Couverture du parc par contrôle", "Fleet coverage per check";
    Check => "Contrôle technique", "Check";
    Pass => "conformes", "pass";
    Fail => "non conformes", "fail";
    Warn => "alerte", "warn";
    Error => "erreur", "error";
    NotApplicable => "non applicable", "not applicable";
    Stale => "silencieux", "stale";
    Coverage => "Couverture", "Coverage";
    HlNotMet => "non atteint", "not met";
    HlNoData => "sans donnée ce mois", "no data this month";
    HlOverdue => "notification(s) CNIL en retard (délai de 72 h dépassé)", "authority notification(s) overdue (72-hour deadline passed)";
    HlOpen => "incident(s) encore ouvert(s) en fin de mois", "incident(s) still open at the end of the month";
    HlCisDown => "Le score CIS baisse de", "The CIS score fell by";
    IdHeading => "Authentification multifacteur des identités (annuaires et forges)", "Multi-factor authentication of identities (directories and code hosts)";
    IdIntro => "Comptes actifs des annuaires et de la forge de code, au dernier relevé réussi de chaque source avant la fin de la période. La couverture est la part des membres actifs disposant d'un second facteur fort ; les invités et collaborateurs externes sont comptés à part.", "Active accounts of the directories and the code host, at each source's last good sync before the end of the period. Coverage is the share of active members with a strong second factor; guests and outside collaborators are counted apart.";
    IdSource => "Source", "Source";
    IdLastSync => "Dernier relevé réussi", "Last good sync";
    IdMembers => "Membres actifs", "Active members";
    IdStrong => "Second facteur fort", "Strong second factor";
    IdWeak => "Facteurs faibles seulement", "Weak factors only";
    IdNone => "Sans second facteur", "No second factor";
    IdUnknown => "Non renseigné", "Not reported";
    IdAdmins => "Administrateurs", "Admins";
    IdAdminsNone => "Administrateurs sans second facteur", "Admins without a second factor";
    IdGuests => "Invités (sans second facteur)", "Guests (without a second factor)";
    IdAllSources => "Toutes sources", "All sources";
    IdStatusStale => "relevé périmé : non évalué", "stale data: not judged";
    IdNever => "jamais relevée avant la fin de la période", "never synced before the end of the period";
    IdFailed => "dernier relevé en échec le", "last sync failed on";
    IdTooOld => "dernier relevé réussi vieux de", "last good sync is";
    IdHours => "heures", "hours old";
    IdStaleHeading => "Sources non à jour", "Sources not current";
    IdFailuresInMonth => "relevé(s) en échec dans le mois", "failed sync(s) in the month";
    IdAdminCoverage => "Couverture des administrateurs", "Admin coverage";
    IdTrendTitle => "Couverture MFA des identités", "Identity MFA coverage";
    IdTrendNote => "Un mois sans relevé réussi est indiqué « — » (pas de donnée), jamais 0 %.", "A month without a good sync shows \"—\" (no data), never 0%.";
    IdAccountsHeading => "Comptes actifs sans second facteur fort", "Active accounts without a strong second factor";
    IdNoAccount => "Aucun compte actif sans second facteur fort.", "No active account without a strong second factor.";
    IdLogin => "Compte", "Account";
    IdDisplayName => "Nom affiché", "Display name";
    IdRole => "Rôle", "Role";
    IdAdmin => "administrateur", "admin";
    IdMember => "membre", "member";
    IdGuest => "invité", "guest";
    IdOutside => "collaborateur externe", "outside collaborator";
    IdState => "État", "State";
    IdSince => "Depuis", "Since";
    IdNoFactor => "aucun second facteur", "no second factor";
    IdWeakOnly => "facteurs faibles seulement (SMS, appel, e-mail)", "weak factors only (SMS, call, e-mail)";
    HlAdminsNoMfa => "compte(s) administrateur sans second facteur (annuaires, forge)", "admin account(s) without a second factor (directories, code host)";
    HlIdNotMet => "Couverture MFA des identités sous la cible :", "Identity MFA coverage under target:";
    HlIdStale => "Source(s) d'identités non à jour, non évaluée(s) :", "Identity source(s) not current, not judged:";
    Generated => "Rapport produit par Vigie à partir de la base du collecteur ; mêmes données, même rapport.", "Report produced by Vigie from the collector's database; same data, same report.";
    SevLow => "faible", "low";
    SevMinor => "mineur", "minor";
    SevMajor => "majeur", "major";
    SevCrisis => "crise", "crisis";
    NsOnTime => "dans les délais", "on time";
    NsLate => "en retard", "late";
    NsOverdue => "échue, non faite", "overdue";
    NsNotYetDue => "à faire, non échue", "not yet due";
    NsMissing => "date de détection manquante", "detection time missing";
    HlWorst => "le plus grave :", "most severe:";
    ScopeHost => "poste", "host";
    ScopeGroup => "groupe", "group";
    FieldTitle => "intitulé", "title";
    FieldScenario => "scénario", "scenario";
    FieldAssets => "actifs", "assets";
    FieldLikelihood => "vraisemblance", "likelihood";
    FieldImpact => "impact", "impact";
    FieldLevel => "niveau", "level";
    FieldTreatment => "traitement", "treatment";
    FieldOwner => "responsable", "owner";
    FieldStatus => "statut", "status";
    FieldNextReview => "prochaine revue", "next review";
    RiskOpen => "ouvert", "open";
    RiskClosed => "clos", "closed";
    TreatReduce => "réduire", "reduce";
    TreatAccept => "accepter", "accept";
    TreatTransfer => "transférer", "transfer";
    TreatAvoid => "éviter", "avoid";
    FrDisk => "Données exposées par la perte ou le vol d'un disque non chiffré", "Data exposed by a lost or stolen unencrypted disk";
    FrIdentityMfa => "Prise de contrôle d'un compte de l'annuaire ou de la forge de code faute de second facteur", "Account takeover at the identity provider or code host without MFA";
    FrMfa => "Prise de contrôle de compte faute d'authentification multifacteur", "Account takeover through missing multi-factor authentication";
    FrBackup => "Perte de données au-delà du point de reprise après un incident", "Data loss beyond the recovery point after an incident";
    FrPatch => "Compromission par une vulnérabilité connue non corrigée", "Compromise through an unpatched known vulnerability";
    FrPassword => "Mots de passe devinés faute d'une politique de mots de passe robuste", "Password guessing against a weak password policy";
    FrScreenLock => "Utilisation d'une session laissée sans surveillance qui ne se verrouille pas", "Misuse of an unattended session that does not lock";
    FrFirewall => "Intrusion par un service réseau exposé faute de pare-feu", "Intrusion through a network service exposed by a host without a firewall";
    FrMalware => "Infection par un logiciel malveillant non détectée", "Malware infection that goes undetected";
    FrOther => "Échecs sur le parc :", "Fleet failures of";
    NoteFailing => "poste(s) évalué(s) en échec sur", "evaluated hosts fail";
    NoteOf => "sur", "of";
    NoteMostCritical => "poste en échec le plus critique", "most critical failing host";
    NoteCriticality => "criticité", "criticality";
    NoteClean => "parc conforme : aucun poste en échec sur", "fleet clean: no host fails";
    NoteEvaluated => "évalué(s)", "evaluated";
    Provisional => "provisoire", "provisional";
    CisOverallScore => "Score global", "Overall score";
    ExceptedHosts => "sous dérogation", "excepted";
    SourceLive => "calculé en direct au", "computed live at";
}

const MONTHS_FR: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];
const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const SHORT_FR: [&str; 12] = [
    "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.",
    "déc.",
];
const SHORT_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// "novembre 2026" / "November 2026" for the month of `d`.
pub fn month_long(lang: Lang, d: NaiveDate) -> String {
    let i = d.month0() as usize;
    match lang {
        Lang::Fr => format!("{} {}", MONTHS_FR[i], d.year()),
        Lang::En => format!("{} {}", MONTHS_EN[i], d.year()),
    }
}

/// "nov. 26" / "Nov 26": axis labels.
pub fn month_short(lang: Lang, d: NaiveDate) -> String {
    let i = d.month0() as usize;
    let yy = d.year().rem_euclid(100);
    match lang {
        Lang::Fr => format!("{} {yy:02}", SHORT_FR[i]),
        Lang::En => format!("{} {yy:02}", SHORT_EN[i]),
    }
}

/// "30 novembre 2026" / "30 November 2026".
pub fn day(lang: Lang, d: NaiveDate) -> String {
    let i = d.month0() as usize;
    match lang {
        Lang::Fr => format!("{} {} {}", d.day(), MONTHS_FR[i], d.year()),
        Lang::En => format!("{} {} {}", d.day(), MONTHS_EN[i], d.year()),
    }
}

/// "03/11/2026 14:05 UTC" / "2026-11-03 14:05 UTC".
pub fn time(lang: Lang, t: DateTime<Utc>) -> String {
    match lang {
        Lang::Fr => t.format("%d/%m/%Y %H:%M UTC").to_string(),
        Lang::En => t.format("%Y-%m-%d %H:%M UTC").to_string(),
    }
}

/// A decimal number with `places` places, comma-separated in French.
pub fn number(lang: Lang, v: f64, places: usize) -> String {
    let s = format!("{v:.places$}");
    // "-0.0" is not a change.
    let s = if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_string()
    } else {
        s
    };
    match lang {
        Lang::Fr => s.replace('.', ","),
        Lang::En => s,
    }
}

/// A ratio as a percentage: "92,5 %" / "92.5%".
pub fn percent(lang: Lang, ratio: f64) -> String {
    let n = number(lang, ratio * 100.0, 1);
    match lang {
        Lang::Fr => format!("{n}\u{a0}%"),
        Lang::En => format!("{n}%"),
    }
}

/// A duration: "3 h 10 min", "2 j 4 h" / "2 d 4 h", "45 min".
pub fn duration(lang: Lang, seconds: f64) -> String {
    let minutes = (seconds / 60.0).round() as i64;
    let (d, h, m) = (minutes / 1440, (minutes % 1440) / 60, minutes % 60);
    let day = match lang {
        Lang::Fr => "j",
        Lang::En => "d",
    };
    if d > 0 {
        format!("{d} {day} {h} h")
    } else if h > 0 {
        format!("{h} h {m:02} min")
    } else {
        format!("{m} min")
    }
}

/// A signed change with `places` places: "+2,5" / "-1.0"; "0,0" without sign.
pub fn signed(lang: Lang, v: f64, places: usize) -> String {
    let n = number(lang, v, places);
    if v > 0.0 && n.chars().any(|c| c.is_ascii_digit() && c != '0') {
        format!("+{n}")
    } else {
        n
    }
}

/// The label of a KPI status.
pub fn status(lang: Lang, s: crate::kpi::KpiStatus) -> &'static str {
    use crate::kpi::KpiStatus as K;
    match s {
        K::Met => Msg::StatusMet,
        K::NotMet => Msg::StatusNotMet,
        K::NoData => Msg::StatusNoData,
        K::NoTarget => Msg::StatusNoTarget,
    }
    .text(lang)
}

/// The label of an indicator by KPI name (the name itself when unknown).
pub fn indicator(lang: Lang, name: &str) -> String {
    let m = match name {
        "patch_sla" => Msg::KpiPatchSla,
        "training_coverage" => Msg::KpiTraining,
        "mttd" => Msg::KpiMttd,
        "mttr" => Msg::KpiMttr,
        "cis.overall" => Msg::KpiCis,
        "personal_data_72h" => Msg::KpiDuty,
        other => return other.to_string(),
    };
    m.text(lang).to_string()
}

/// The label of a check (coverage table, risk titles) from the check registry
/// (`vigie_checks::Check::label`); the id itself when this build has no such check.
pub fn check(lang: Lang, id: &str) -> String {
    match vigie_checks::find(id) {
        Some(c) => {
            let l = c.label();
            match lang {
                Lang::Fr => l.fr,
                Lang::En => l.en,
            }
            .to_string()
        }
        None => id.to_string(),
    }
}

/// The label of a severity.
pub fn severity(lang: Lang, s: crate::registers::incident::Severity) -> &'static str {
    use crate::registers::incident::Severity as S;
    match s {
        S::Low => Msg::SevLow,
        S::Minor => Msg::SevMinor,
        S::Major => Msg::SevMajor,
        S::Crisis => Msg::SevCrisis,
    }
    .text(lang)
}

/// The label of a notification state.
pub fn notification(lang: Lang, s: crate::kpi::notification::NotificationState) -> &'static str {
    use crate::kpi::notification::NotificationState as N;
    match s {
        N::OnTime => Msg::NsOnTime,
        N::Late => Msg::NsLate,
        N::Overdue => Msg::NsOverdue,
        N::NotYetDue => Msg::NsNotYetDue,
        N::MissingTimestamps => Msg::NsMissing,
    }
    .text(lang)
}

/// The label of a risk level.
pub fn level(lang: Lang, l: crate::risk::Level) -> &'static str {
    use crate::risk::Level as L;
    match l {
        L::Low => Msg::LvLow,
        L::Medium => Msg::LvMedium,
        L::High => Msg::LvHigh,
        L::Critical => Msg::LvCritical,
    }
    .text(lang)
}

/// The title of the fleet risk of `check` whose stored title is the shipped English one.
pub fn fleet_risk_title(lang: Lang, check: &str) -> String {
    let m = match check {
        "disk_encryption" => Msg::FrDisk,
        "mfa" => Msg::FrMfa,
        "backup_freshness" => Msg::FrBackup,
        "patch_age" => Msg::FrPatch,
        "password_policy" => Msg::FrPassword,
        "screen_lock" => Msg::FrScreenLock,
        "firewall" => Msg::FrFirewall,
        "malware_protection" => Msg::FrMalware,
        "identity_mfa" => Msg::FrIdentityMfa,
        other => return format!("{} {}", Msg::FrOther.text(lang), self::check(lang, other)),
    };
    m.text(lang).to_string()
}

/// A fleet risk's history note in `lang` (see [`crate::risk::fleet_note`]).
pub fn fleet_note(lang: Lang, n: &crate::risk::fleet_note::FleetNote) -> String {
    use crate::risk::fleet_note::FleetNote as N;
    match n {
        N::Failing {
            failing,
            evaluated,
            check: c,
            host,
            criticality,
        } => {
            let counted = format!(
                "{failing} {} {evaluated} {} {}",
                Msg::NoteOf.text(lang),
                Msg::NoteFailing.text(lang),
                check(lang, c)
            );
            let crit = format!("{} {criticality}", Msg::NoteCriticality.text(lang));
            let most = match host {
                Some(h) => format!("{h} ({crit})"),
                None => crit,
            };
            let sep = if lang == Lang::Fr { " ; " } else { "; " };
            format!(
                "{counted}{sep}{}",
                kv(lang, Msg::NoteMostCritical.text(lang), &most)
            )
        }
        N::Clean {
            check: c,
            evaluated,
        } => format!(
            "{} {} ({evaluated} {})",
            Msg::NoteClean.text(lang),
            check(lang, c),
            Msg::NoteEvaluated.text(lang)
        ),
    }
}

/// The label of a risk-register field as it appears in a history entry (the key when unknown).
pub fn risk_field(lang: Lang, field: &str) -> String {
    let m = match field {
        "title" => Msg::FieldTitle,
        "scenario" => Msg::FieldScenario,
        "assets" => Msg::FieldAssets,
        "likelihood" => Msg::FieldLikelihood,
        "impact" => Msg::FieldImpact,
        "level" => Msg::FieldLevel,
        "treatment" => Msg::FieldTreatment,
        "owner" => Msg::FieldOwner,
        "status" => Msg::FieldStatus,
        "next_review" => Msg::FieldNextReview,
        other => return other.to_string(),
    };
    m.text(lang).to_string()
}

/// A stored enum value of a risk-register field in `lang` (`None`: not an enum value of the
/// field; the caller shows it as stored).
pub fn risk_value(lang: Lang, field: &str, value: &str) -> Option<&'static str> {
    let m = match (field, value) {
        ("level", l) => {
            return crate::risk::Level::parse_field(l, "level")
                .ok()
                .map(|l| level(lang, l))
        }
        ("status", "open") => Msg::RiskOpen,
        ("status", "closed") => Msg::RiskClosed,
        ("treatment", "reduce") => Msg::TreatReduce,
        ("treatment", "accept") => Msg::TreatAccept,
        ("treatment", "transfer") => Msg::TreatTransfer,
        ("treatment", "avoid") => Msg::TreatAvoid,
        _ => return None,
    };
    Some(m.text(lang))
}

/// French typography puts a space before a colon: "Période : …" / "Period: …".
pub fn kv(lang: Lang, key: &str, value: &str) -> String {
    match lang {
        Lang::Fr => format!("{key} : {value}"),
        Lang::En => format!("{key}: {value}"),
    }
}

/// CIS Controls v8.1 control titles in French (the catalogue's own titles are English).
const CONTROLS_FR: [&str; 18] = [
    "Inventaire et contrôle des actifs de l'entreprise",
    "Inventaire et contrôle des actifs logiciels",
    "Protection des données",
    "Configuration sécurisée des actifs et logiciels",
    "Gestion des comptes",
    "Gestion des contrôles d'accès",
    "Gestion continue des vulnérabilités",
    "Gestion des journaux d'audit",
    "Protection de la messagerie et du navigateur web",
    "Défenses contre les logiciels malveillants",
    "Récupération des données",
    "Gestion de l'infrastructure réseau",
    "Surveillance et défense du réseau",
    "Sensibilisation et formation à la sécurité",
    "Gestion des fournisseurs de services",
    "Sécurité des applications logicielles",
    "Gestion de la réponse aux incidents",
    "Tests d'intrusion",
];

/// The title of CIS control `id` in `lang` (`catalogue_title` is the English one).
pub fn control_title(lang: Lang, id: u8, catalogue_title: &str) -> String {
    match lang {
        Lang::Fr => CONTROLS_FR
            .get(usize::from(id).wrapping_sub(1))
            .map_or_else(|| catalogue_title.to_string(), |t| t.to_string()),
        Lang::En => catalogue_title.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_per_language() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        assert_eq!(month_long(Lang::Fr, d), "novembre 2026");
        assert_eq!(month_long(Lang::En, d), "November 2026");
        assert_eq!(month_short(Lang::Fr, d), "nov. 26");
        assert_eq!(day(Lang::Fr, d), "30 novembre 2026");
        assert_eq!(percent(Lang::Fr, 0.925), "92,5\u{a0}%");
        assert_eq!(percent(Lang::En, 0.925), "92.5%");
        // 11 400 s = 190 min = 3 h 10 min; 187 200 s = 52 h = 2 d 4 h.
        assert_eq!(duration(Lang::Fr, 11_400.0), "3 h 10 min");
        assert_eq!(duration(Lang::En, 187_200.0), "2 d 4 h");
        assert_eq!(duration(Lang::Fr, 187_200.0), "2 j 4 h");
        assert_eq!(signed(Lang::Fr, 2.46, 1), "+2,5");
        assert_eq!(signed(Lang::En, -0.04, 1), "0.0");
        assert_eq!(signed(Lang::En, -1.0, 1), "-1.0");
    }

    #[test]
    fn check_labels_come_from_the_registry_and_every_shipped_risk_is_translated() {
        assert_eq!(check(Lang::Fr, "firewall"), "Pare-feu");
        assert_eq!(check(Lang::En, "malware_protection"), "Malware protection");
        assert_eq!(check(Lang::En, "no_such_check"), "no_such_check");
        // Every coverage check has a label in each language, from its own file.
        for id in crate::kpi::coverage::CHECKS.iter() {
            assert_ne!(check(Lang::Fr, id), *id, "{id}: no French label");
            assert_ne!(check(Lang::En, id), *id, "{id}: no English label");
        }
        // The shipped fleet risks: the English title is the stored one, and French has its own.
        let other = Msg::FrOther.text(Lang::Fr);
        for sc in crate::risk::fleet::scenarios(&Default::default()) {
            assert_eq!(
                fleet_risk_title(Lang::En, &sc.check),
                sc.title,
                "{}",
                sc.check
            );
            assert!(
                !fleet_risk_title(Lang::Fr, &sc.check).starts_with(other),
                "{}: no French fleet risk title",
                sc.check
            );
        }
    }
}
