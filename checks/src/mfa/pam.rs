//! Linux-PAM configuration: parse `/etc/pam.d/<service>` files, resolve `include`, `substack` and
//! Debian's `@include` into one stack per management group, and evaluate a stack the way libpam's
//! dispatcher does (`pam_dispatch.c`), so questions like "can `auth` succeed while the second-factor
//! module fails?" are answered by running the stack, not by grepping it.
//!
//! Semantics follow pam.conf(5): simple controls are shorthands for `[value=action …]` brackets,
//! actions are `ok`, `done`, `bad`, `die`, `ignore`, `reset` or a jump `N`; a bracket without
//! `default=` defaults to `bad`. Jumps are counted over the spliced stack (includes are flattened);
//! a substack is one module for its parent and `done`/`die` inside it only end the substack.

use std::collections::{BTreeMap, BTreeSet, HashSet};

/// The directory service files live in.
pub const PAM_DIR: &str = "/etc/pam.d";

/// Where libpam looks for a service or include file, in this order: the administrator's
/// `/etc/pam.d`, then the distribution's `/usr/lib/pam.d` (Linux-PAM's `PAM_CONFIG_DIST_D`), then
/// the vendor directory `/usr/etc/pam.d` (`--enable-vendordir=/usr/etc`, openSUSE). A file in an
/// earlier directory hides the same name in a later one.
pub const PAM_DIRS: [&str; 3] = [PAM_DIR, "/usr/lib/pam.d", "/usr/etc/pam.d"];

/// Why a PAM file could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("line {line}: {message}")]
    Syntax { line: usize, message: String },
}

/// A PAM management group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PamType {
    Auth,
    Account,
    Password,
    Session,
}

impl PamType {
    fn parse(s: &str) -> Option<PamType> {
        match s.to_ascii_lowercase().as_str() {
            "auth" => Some(PamType::Auth),
            "account" => Some(PamType::Account),
            "password" => Some(PamType::Password),
            "session" => Some(PamType::Session),
            _ => None,
        }
    }
}

/// What the dispatcher does with a module's return value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Ok,
    Done,
    Bad,
    Die,
    Ignore,
    Reset,
    /// Skip the next N modules.
    Jump(u32),
}

impl Action {
    fn parse(s: &str) -> Option<Action> {
        Some(match s.to_ascii_lowercase().as_str() {
            "ok" => Action::Ok,
            "done" => Action::Done,
            "bad" => Action::Bad,
            "die" => Action::Die,
            "ignore" => Action::Ignore,
            "reset" => Action::Reset,
            n => Action::Jump(n.parse::<u32>().ok().filter(|n| *n > 0)?),
        })
    }
}

/// A control field, normalised to its action table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Control {
    /// The field as written (`sufficient`, `[success=1 default=ignore]`).
    pub text: String,
    actions: BTreeMap<String, Action>,
    default: Action,
}

impl Control {
    /// Parse a simple keyword or a bracket expression.
    pub fn parse(text: &str) -> Option<Control> {
        let mut actions = BTreeMap::new();
        let default;
        match text.to_ascii_lowercase().as_str() {
            "required" | "requisite" => {
                actions.insert("success".into(), Action::Ok);
                actions.insert("new_authtok_reqd".into(), Action::Ok);
                actions.insert("ignore".into(), Action::Ignore);
                default = if text.eq_ignore_ascii_case("required") {
                    Action::Bad
                } else {
                    Action::Die
                };
            }
            "sufficient" => {
                actions.insert("success".into(), Action::Done);
                actions.insert("new_authtok_reqd".into(), Action::Done);
                default = Action::Ignore;
            }
            "optional" => {
                actions.insert("success".into(), Action::Ok);
                actions.insert("new_authtok_reqd".into(), Action::Ok);
                default = Action::Ignore;
            }
            _ => {
                let inner = text.strip_prefix('[')?.strip_suffix(']')?;
                let mut dflt = None;
                for pair in inner.split_whitespace() {
                    let (value, action) = pair.split_once('=')?;
                    let action = Action::parse(action)?;
                    let value = value.to_ascii_lowercase();
                    if value == "default" {
                        dflt = Some(action);
                    } else {
                        actions.insert(value, action);
                    }
                }
                // libpam: unset return values take `default`, and `default` itself defaults to bad.
                default = dflt.unwrap_or(Action::Bad);
            }
        }
        Some(Control {
            text: text.to_string(),
            actions,
            default,
        })
    }

    /// The action taken for a return value (`success`, `auth_err`, `ignore` …).
    pub fn action_for(&self, ret: &str) -> Action {
        self.actions.get(ret).copied().unwrap_or(self.default)
    }
}

/// One module line (`auth required pam_unix.so nullok`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleLine {
    pub ty: PamType,
    /// `-auth …`: silently skipped when the module file is missing.
    pub skip_if_missing: bool,
    pub control: Control,
    /// The module path as written (`pam_unix.so`, `/lib/security/pam_u2f.so`).
    pub path: String,
    pub args: Vec<String>,
    pub line: usize,
}

impl ModuleLine {
    /// The module's name: basename without `.so` (`pam_unix`).
    pub fn name(&self) -> &str {
        let base = self.path.rsplit('/').next().unwrap_or(&self.path);
        base.strip_suffix(".so").unwrap_or(base)
    }

    /// Whether the module has this bare argument (`nullok`).
    pub fn has_arg(&self, arg: &str) -> bool {
        self.args.iter().any(|a| a == arg)
    }

    /// The value of a `key=value` argument (the last one wins, as modules parse left to right).
    pub fn arg_value(&self, key: &str) -> Option<&str> {
        self.args
            .iter()
            .rev()
            .find_map(|a| a.strip_prefix(key)?.strip_prefix('='))
    }
}

/// How an `include`-like line brings in another file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeKind {
    /// `auth include X`: splice X's lines of this type.
    Include,
    /// `auth substack X`: X's lines of this type run as one module.
    Substack,
    /// Debian's `@include X`: splice X's lines of every type.
    AtInclude,
}

/// One meaningful line of a PAM file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PamLine {
    Module(ModuleLine),
    Include {
        /// `None` for `@include` (all types).
        ty: Option<PamType>,
        kind: IncludeKind,
        target: String,
        line: usize,
    },
}

/// Parse a PAM service file (pam.conf(5) syntax without the service column).
pub fn parse_pam_file(text: &str) -> Result<Vec<PamLine>, ParseError> {
    let mut out = Vec::new();
    for (line_no, logical) in logical_lines(text) {
        let tokens = tokenize(&logical);
        let Some(first) = tokens.first() else {
            continue;
        };
        let err = |message: String| ParseError::Syntax {
            line: line_no,
            message,
        };
        if first == "@include" {
            let target = tokens
                .get(1)
                .ok_or_else(|| err("@include without a file".into()))?;
            out.push(PamLine::Include {
                ty: None,
                kind: IncludeKind::AtInclude,
                target: target.clone(),
                line: line_no,
            });
            continue;
        }
        let (skip_if_missing, type_word) = match first.strip_prefix('-') {
            Some(t) => (true, t),
            None => (false, first.as_str()),
        };
        let ty = PamType::parse(type_word)
            .ok_or_else(|| err(format!("unknown module type {first:?}")))?;
        let control_text = tokens
            .get(1)
            .ok_or_else(|| err("missing control field".into()))?;
        let target = tokens
            .get(2)
            .ok_or_else(|| err("missing module path".into()))?;
        let kind = match control_text.to_ascii_lowercase().as_str() {
            "include" => Some(IncludeKind::Include),
            "substack" => Some(IncludeKind::Substack),
            _ => None,
        };
        if let Some(kind) = kind {
            out.push(PamLine::Include {
                ty: Some(ty),
                kind,
                target: target.clone(),
                line: line_no,
            });
            continue;
        }
        let control = Control::parse(control_text)
            .ok_or_else(|| err(format!("invalid control field {control_text:?}")))?;
        out.push(PamLine::Module(ModuleLine {
            ty,
            skip_if_missing,
            control,
            path: target.clone(),
            args: tokens[3..].to_vec(),
            line: line_no,
        }));
    }
    Ok(out)
}

/// Join `\`-continued lines and drop comments; yields (first line number, text).
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut buf = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        if buf.is_empty() {
            start = i + 1;
        }
        match raw.strip_suffix('\\') {
            Some(head) => {
                buf.push_str(head);
                buf.push(' ');
            }
            None => {
                buf.push_str(raw);
                out.push((start, strip_comment(&buf)));
                buf.clear();
            }
        }
    }
    if !buf.is_empty() {
        out.push((start, strip_comment(&buf)));
    }
    out
}

/// Everything from a `#` outside brackets to the end of the line is a comment.
fn strip_comment(line: &str) -> String {
    let mut depth = 0usize;
    for (i, c) in line.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            '#' if depth == 0 => return line[..i].to_string(),
            _ => {}
        }
    }
    line.to_string()
}

/// Split on whitespace, keeping `[ … ]` groups (controls, arguments with spaces) as one token.
fn tokenize(line: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut tok = String::new();
        if c == '[' {
            while let Some(c) = chars.next() {
                if c == '\\' && chars.peek() == Some(&']') {
                    tok.push(']');
                    chars.next();
                    continue;
                }
                tok.push(c);
                if c == ']' {
                    break;
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                tok.push(c);
                chars.next();
            }
        }
        tokens.push(tok);
    }
    tokens
}

/// The host path of an include target: relative names live in `/etc/pam.d`.
pub fn pam_path(target: &str) -> String {
    if target.starts_with('/') {
        target.to_string()
    } else {
        format!("{PAM_DIR}/{target}")
    }
}

/// The file libpam reads for `target` (a service name, an include target, or an absolute path):
/// the first of [`PAM_DIRS`] holding it; `None` when no directory does.
pub fn locate(target: &str, exists: &dyn Fn(&str) -> bool) -> Option<String> {
    if target.starts_with('/') {
        return exists(target).then(|| target.to_string());
    }
    PAM_DIRS
        .iter()
        .map(|dir| format!("{dir}/{target}"))
        .find(|p| exists(p))
}

/// A module of a resolved stack, with the file it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub module: ModuleLine,
    pub file: String,
}

/// One element of a resolved stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Module(Rule),
    /// A `substack` line: its own stack, seen by the parent as one module with `control`.
    Substack {
        control: Control,
        target: String,
        file: String,
        line: usize,
        nodes: Vec<Node>,
    },
}

impl Node {
    /// Every module line in this node, substacks flattened, in order.
    pub fn modules(nodes: &[Node]) -> Vec<&Rule> {
        let mut out = Vec::new();
        for n in nodes {
            match n {
                Node::Module(r) => out.push(r),
                Node::Substack { nodes, .. } => out.extend(Node::modules(nodes)),
            }
        }
        out
    }
}

/// Why a stack could not be resolved; `E` is the loader's own error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError<E: std::error::Error> {
    #[error(transparent)]
    Load(E),
    #[error("{path}: includes nest deeper than {MAX_DEPTH} levels (a loop?)")]
    TooDeep { path: String },
}

/// How deep includes may nest; libpam's own limit is similar.
pub const MAX_DEPTH: usize = 16;

/// Resolve the `ty` stack of the service file at `path`, loading (already parsed) files through
/// `load`, which receives host paths.
/// Include targets are looked up in `/etc/pam.d` only; see [`resolve_stack_in`] for libpam's
/// full search path.
pub fn resolve_stack<E: std::error::Error>(
    path: &str,
    ty: PamType,
    load: &mut dyn FnMut(&str) -> Result<Vec<PamLine>, E>,
) -> Result<Vec<Node>, ResolveError<E>> {
    resolve_depth(path, ty, load, &pam_path, 0)
}

/// Like [`resolve_stack`], with include targets turned into host paths by `locate` (for example
/// the first of [`PAM_DIRS`] that holds the file).
pub fn resolve_stack_in<E: std::error::Error>(
    path: &str,
    ty: PamType,
    load: &mut dyn FnMut(&str) -> Result<Vec<PamLine>, E>,
    locate: &dyn Fn(&str) -> String,
) -> Result<Vec<Node>, ResolveError<E>> {
    resolve_depth(path, ty, load, locate, 0)
}

fn resolve_depth<E: std::error::Error>(
    path: &str,
    ty: PamType,
    load: &mut dyn FnMut(&str) -> Result<Vec<PamLine>, E>,
    locate: &dyn Fn(&str) -> String,
    depth: usize,
) -> Result<Vec<Node>, ResolveError<E>> {
    if depth > MAX_DEPTH {
        return Err(ResolveError::TooDeep {
            path: path.to_string(),
        });
    }
    let lines = load(path).map_err(ResolveError::Load)?;
    let mut out = Vec::new();
    for line in lines {
        match line {
            PamLine::Module(m) if m.ty == ty => out.push(Node::Module(Rule {
                module: m,
                file: path.to_string(),
            })),
            PamLine::Module(_) => {}
            PamLine::Include {
                ty: line_ty,
                kind,
                target,
                line,
            } => {
                if line_ty.is_some_and(|t| t != ty) {
                    continue;
                }
                let target_path = locate(&target);
                let nodes = resolve_depth(&target_path, ty, load, locate, depth + 1)?;
                if kind == IncludeKind::Substack {
                    out.push(Node::Substack {
                        // The parent sees the substack's result like a `required` module's.
                        control: Control::parse("required").expect("builtin control"),
                        target,
                        file: path.to_string(),
                        line,
                        nodes,
                    });
                } else {
                    out.extend(nodes);
                }
            }
        }
    }
    Ok(out)
}

/// What a module returned in a simulated run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    Success,
    /// Any failure (`auth_err` stands for them all).
    Failure,
    /// `PAM_USER_UNKNOWN`: a module that does not know the user (pam_oath's `usersfile`), which
    /// bracket controls may map to something else than other failures.
    UserUnknown,
    Ignore,
    /// A `-type` line whose module file is missing: the line is skipped.
    Absent,
}

impl Outcome {
    fn return_value(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "auth_err",
            Outcome::UserUnknown => "user_unknown",
            Outcome::Ignore | Outcome::Absent => "ignore",
        }
    }
}

/// One module run in a witness path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Module name, or `substack <target>`.
    pub module: String,
    pub file: String,
    pub line: usize,
    pub control: String,
    pub outcome: Outcome,
    /// `None` for an absent `-type` module (no action taken).
    pub action: Option<Action>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Impression {
    Undef,
    Positive,
    Negative,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Status {
    Success,
    Ignore,
    Failure,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct State {
    impression: Impression,
    status: Status,
}

/// The final result of a stack run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Final {
    Success,
    Ignore,
    Failure,
}

/// Can the stack return success while every module for which `forced_fail` holds fails?
///
/// Other modules may succeed, fail or return ignore (the user controls the password, the
/// attacker the rest); `pam_deny` always fails and `pam_permit` always succeeds. Returns the
/// modules run on one such path, or `None` when no success is reachable.
pub fn success_without(
    nodes: &[Node],
    forced_fail: &dyn Fn(&ModuleLine) -> bool,
) -> Option<Vec<Step>> {
    let forced = |m: &ModuleLine| forced_fail(m).then(|| vec![Outcome::Failure]);
    outcomes(nodes, &forced).remove(&Final::Success)
}

/// Can the stack return success when each module for which `forced` answers `Some` returns only
/// the outcomes given (a second factor whose server is unreachable: `Failure`, or its fail-open
/// `Success`/`Ignore`/`UserUnknown`)? Other modules behave as in [`success_without`].
pub fn success_with(
    nodes: &[Node],
    forced: &dyn Fn(&ModuleLine) -> Option<Vec<Outcome>>,
) -> Option<Vec<Step>> {
    outcomes(nodes, forced).remove(&Final::Success)
}

fn outcomes(
    nodes: &[Node],
    forced: &dyn Fn(&ModuleLine) -> Option<Vec<Outcome>>,
) -> BTreeMap<Final, Vec<Step>> {
    let mut found = BTreeMap::new();
    let mut visited = HashSet::new();
    let start = State {
        impression: Impression::Undef,
        status: Status::Failure,
    };
    walk(
        nodes,
        0,
        start,
        forced,
        &mut Vec::new(),
        &mut visited,
        &mut found,
    );
    found
}

fn possible_outcomes(
    m: &ModuleLine,
    forced: &dyn Fn(&ModuleLine) -> Option<Vec<Outcome>>,
) -> Vec<Outcome> {
    let mut v = if let Some(v) = forced(m) {
        v
    } else {
        match m.name() {
            "pam_deny" => vec![Outcome::Failure],
            "pam_permit" => vec![Outcome::Success],
            _ => vec![Outcome::Success, Outcome::Failure, Outcome::Ignore],
        }
    };
    if m.skip_if_missing {
        v.push(Outcome::Absent);
    }
    v
}

fn finish(state: State) -> Final {
    match (state.impression, state.status) {
        (Impression::Positive, Status::Success) => Final::Success,
        (_, Status::Ignore) if state.impression == Impression::Positive => Final::Ignore,
        _ => Final::Failure,
    }
}

fn walk(
    nodes: &[Node],
    idx: usize,
    state: State,
    forced: &dyn Fn(&ModuleLine) -> Option<Vec<Outcome>>,
    steps: &mut Vec<Step>,
    visited: &mut HashSet<(usize, State)>,
    found: &mut BTreeMap<Final, Vec<Step>>,
) {
    if idx >= nodes.len() {
        found.entry(finish(state)).or_insert_with(|| steps.clone());
        return;
    }
    if !visited.insert((idx, state)) {
        return;
    }
    // (outcome, control, step template, sub-steps) per possible result of this node.
    let mut branches: Vec<(Outcome, &Control, Step, Vec<Step>)> = Vec::new();
    match &nodes[idx] {
        Node::Module(rule) => {
            for o in possible_outcomes(&rule.module, forced) {
                branches.push((
                    o,
                    &rule.module.control,
                    Step {
                        module: rule.module.name().to_string(),
                        file: rule.file.clone(),
                        line: rule.module.line,
                        control: rule.module.control.text.clone(),
                        outcome: o,
                        action: None,
                    },
                    Vec::new(),
                ));
            }
        }
        Node::Substack {
            control,
            target,
            file,
            line,
            nodes: sub,
        } => {
            for (fin, sub_steps) in outcomes(sub, forced) {
                let o = match fin {
                    Final::Success => Outcome::Success,
                    Final::Ignore => Outcome::Ignore,
                    Final::Failure => Outcome::Failure,
                };
                branches.push((
                    o,
                    control,
                    Step {
                        module: format!("substack {target}"),
                        file: file.clone(),
                        line: *line,
                        control: "substack".into(),
                        outcome: o,
                        action: None,
                    },
                    sub_steps,
                ));
            }
        }
    }
    for (outcome, control, mut step, sub_steps) in branches {
        let depth = steps.len();
        steps.extend(sub_steps);
        if outcome == Outcome::Absent {
            steps.push(step);
            walk(nodes, idx + 1, state, forced, steps, visited, found);
            steps.truncate(depth);
            continue;
        }
        let action = control.action_for(outcome.return_value());
        step.action = Some(action);
        steps.push(step);
        let mut next = state;
        let mut stop = false;
        let mut skip = 0usize;
        match action {
            Action::Reset => {
                next.impression = Impression::Undef;
                next.status = Status::Failure;
            }
            Action::Ok | Action::Done => {
                if next.impression == Impression::Undef
                    || (next.impression == Impression::Positive && next.status == Status::Success)
                {
                    next.impression = Impression::Positive;
                    next.status = match outcome {
                        Outcome::Success => Status::Success,
                        Outcome::Ignore | Outcome::Absent => Status::Ignore,
                        Outcome::Failure | Outcome::UserUnknown => Status::Failure,
                    };
                }
                stop = action == Action::Done && next.impression != Impression::Negative;
            }
            Action::Bad | Action::Die => {
                if next.impression != Impression::Negative {
                    next.impression = Impression::Negative;
                    next.status = Status::Failure;
                }
                stop = action == Action::Die;
            }
            Action::Ignore => {}
            Action::Jump(n) => skip = n as usize,
        }
        if stop {
            found.entry(finish(next)).or_insert_with(|| steps.clone());
        } else {
            walk(nodes, idx + 1 + skip, next, forced, steps, visited, found);
        }
        steps.truncate(depth);
    }
}

/// Say in one phrase why a witness path from [`success_without`] reaches success although the
/// `target` modules failed: the target's failure is ignored, a `-type` target is missing, a
/// `sufficient`-like module ends the stack first, or a jump skips the target.
pub fn explain_success_without(
    steps: &[Step],
    target: &str,
    is_target: &dyn Fn(&str) -> bool,
) -> String {
    let at = |s: &Step| format!("{}:{}", s.file, s.line);
    for s in steps.iter().filter(|s| is_target(&s.module)) {
        if s.outcome == Outcome::Absent {
            return format!(
                "-{} line is skipped when the module is missing ({})",
                s.module,
                at(s)
            );
        }
        if !matches!(s.action, Some(Action::Bad | Action::Die)) {
            return format!(
                "{} {} does not block on failure ({})",
                s.control,
                s.module,
                at(s)
            );
        }
    }
    if let Some(s) = steps
        .iter()
        .rev()
        .find(|s| s.action == Some(Action::Done) && !is_target(&s.module))
    {
        return format!(
            "{} {} succeeds before {target} ({})",
            s.control,
            s.module,
            at(s)
        );
    }
    if let Some(s) = steps
        .iter()
        .find(|s| matches!(s.action, Some(Action::Jump(_))) && !is_target(&s.module))
    {
        return format!("{} {} jumps over {target} ({})", s.control, s.module, at(s));
    }
    format!("the stack can succeed without {target}")
}

/// Names of the modules a resolved stack contains (substacks flattened).
pub fn module_names(nodes: &[Node]) -> BTreeSet<String> {
    Node::modules(nodes)
        .into_iter()
        .map(|r| r.module.name().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Debian 12's /etc/pam.d/common-auth as shipped (pam-auth-update output).
    const DEBIAN_COMMON_AUTH: &str = "\
#
# /etc/pam.d/common-auth - authentication settings common to all services
#
# here are the per-package modules (the \"Primary\" block)
auth\t[success=1 default=ignore]\tpam_unix.so nullok
# here's the fallback if no module succeeds
auth\trequisite\t\t\tpam_deny.so
# prime the stack with a positive return value if there isn't one already;
auth\trequired\t\t\tpam_permit.so
# and here are more per-package modules (the \"Additional\" block)
auth\toptional\t\t\tpam_cap.so 
# end of pam-auth-update config
";

    fn files(list: &[(&str, &str)]) -> BTreeMap<String, String> {
        list.iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect()
    }

    #[derive(Debug, thiserror::Error)]
    #[error("{0}: missing")]
    struct Missing(String);

    fn resolve(fs: &BTreeMap<String, String>, entry: &str, ty: PamType) -> Vec<Node> {
        let mut load = |p: &str| -> Result<Vec<PamLine>, Missing> {
            let t = fs.get(p).ok_or_else(|| Missing(p.to_string()))?;
            Ok(parse_pam_file(t).unwrap())
        };
        resolve_stack(entry, ty, &mut load).unwrap()
    }

    fn is_totp(m: &ModuleLine) -> bool {
        m.name() == "pam_google_authenticator"
    }

    #[test]
    fn parses_debian_common_auth() {
        let lines = parse_pam_file(DEBIAN_COMMON_AUTH).unwrap();
        assert_eq!(lines.len(), 4);
        let PamLine::Module(first) = &lines[0] else {
            panic!("not a module")
        };
        assert_eq!(first.name(), "pam_unix");
        assert_eq!(first.line, 5);
        assert_eq!(first.control.action_for("success"), Action::Jump(1));
        assert_eq!(first.control.action_for("auth_err"), Action::Ignore);
        assert!(first.has_arg("nullok"));
    }

    #[test]
    fn parses_brackets_continuations_dash_and_includes() {
        let text = "#%PAM-1.0\n\
auth  [success=done new_authtok_reqd=done default=die] pam_mysql.so \\\n  [query=select x from y where a=?] verbose\n\
-auth optional pam_gnome_keyring.so\n\
auth substack system-auth # trailing comment\n\
@include common-account\n\
password include system-auth\n";
        let lines = parse_pam_file(text).unwrap();
        assert_eq!(lines.len(), 5);
        let PamLine::Module(m) = &lines[0] else {
            panic!()
        };
        assert_eq!(m.args, vec!["[query=select x from y where a=?]", "verbose"]);
        assert_eq!(m.control.action_for("auth_err"), Action::Die);
        let PamLine::Module(g) = &lines[1] else {
            panic!()
        };
        assert!(g.skip_if_missing);
        assert_eq!(
            lines[2],
            PamLine::Include {
                ty: Some(PamType::Auth),
                kind: IncludeKind::Substack,
                target: "system-auth".into(),
                line: 5
            }
        );
        assert!(matches!(
            &lines[3],
            PamLine::Include {
                ty: None,
                kind: IncludeKind::AtInclude,
                ..
            }
        ));
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_pam_file("auth [success=banana] pam_unix.so\n").is_err());
        assert!(parse_pam_file("authx required pam_unix.so\n").is_err());
        assert!(parse_pam_file("auth required\n").is_err());
    }

    #[test]
    fn bracket_without_default_means_bad() {
        let c = Control::parse("[success=ok]").unwrap();
        assert_eq!(c.action_for("auth_err"), Action::Bad);
    }

    #[test]
    fn debian_common_auth_succeeds_on_password_alone() {
        let fs = files(&[
            (
                "/etc/pam.d/sshd",
                "@include common-auth\naccount required pam_nologin.so\n",
            ),
            ("/etc/pam.d/common-auth", DEBIAN_COMMON_AUTH),
        ]);
        let stack = resolve(&fs, "/etc/pam.d/sshd", PamType::Auth);
        assert_eq!(stack.len(), 4);
        // No TOTP at all: success is reachable, through pam_unix success jumping over pam_deny.
        let w = success_without(&stack, &is_totp).expect("reachable");
        assert_eq!(w[0].module, "pam_unix");
        assert_eq!(w[0].outcome, Outcome::Success);
        // And the stack cannot succeed if pam_unix fails.
        let unix = |m: &ModuleLine| m.name() == "pam_unix";
        assert!(success_without(&stack, &unix).is_none());
    }

    #[test]
    fn totp_required_after_common_auth_is_enforced() {
        let fs = files(&[
            (
                "/etc/pam.d/sshd",
                "@include common-auth\nauth required pam_google_authenticator.so\n",
            ),
            ("/etc/pam.d/common-auth", DEBIAN_COMMON_AUTH),
        ]);
        let stack = resolve(&fs, "/etc/pam.d/sshd", PamType::Auth);
        assert!(success_without(&stack, &is_totp).is_none());
    }

    #[test]
    fn sufficient_unix_before_totp_is_a_bypass() {
        let fs = files(&[(
            "/etc/pam.d/sshd",
            "auth sufficient pam_unix.so\nauth required pam_google_authenticator.so\n",
        )]);
        let stack = resolve(&fs, "/etc/pam.d/sshd", PamType::Auth);
        let w = success_without(&stack, &is_totp).expect("bypass");
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].module, "pam_unix");
        assert_eq!(w[0].action, Some(Action::Done));
    }

    #[test]
    fn totp_with_success_jump_before_password_is_or_not_and() {
        // The risky install-script pattern: OTP success skips pam_unix, so OTP *or* password.
        let text = "auth [success=1 default=ignore] pam_google_authenticator.so\n".to_string()
            + DEBIAN_COMMON_AUTH;
        let fs = files(&[("/etc/pam.d/sshd", &text)]);
        let stack = resolve(&fs, "/etc/pam.d/sshd", PamType::Auth);
        let w = success_without(&stack, &is_totp).expect("bypass");
        assert_eq!(w[0].module, "pam_google_authenticator");
        assert_eq!(w[0].action, Some(Action::Ignore));
    }

    #[test]
    fn optional_and_dash_totp_are_bypasses_requisite_is_not() {
        for (line, bypass) in [
            ("auth optional pam_google_authenticator.so\n", true),
            ("-auth required pam_google_authenticator.so\n", true),
            ("auth requisite pam_google_authenticator.so\n", false),
            (
                "auth [success=ok default=die] pam_google_authenticator.so\n",
                false,
            ),
        ] {
            let text = format!("auth required pam_unix.so\n{line}");
            let fs = files(&[("/etc/pam.d/sshd", &text)]);
            let stack = resolve(&fs, "/etc/pam.d/sshd", PamType::Auth);
            assert_eq!(
                success_without(&stack, &is_totp).is_some(),
                bypass,
                "{line}"
            );
        }
    }

    #[test]
    fn substack_done_only_ends_the_substack() {
        // In the substack, a sufficient pam_unix ends only the substack; the parent still
        // requires the TOTP module afterwards.
        let fs = files(&[
            (
                "/etc/pam.d/sshd",
                "auth substack password-auth\nauth required pam_google_authenticator.so\n",
            ),
            (
                "/etc/pam.d/password-auth",
                "auth sufficient pam_unix.so\nauth required pam_deny.so\n",
            ),
        ]);
        let stack = resolve(&fs, "/etc/pam.d/sshd", PamType::Auth);
        assert!(matches!(stack[0], Node::Substack { .. }));
        assert!(success_without(&stack, &is_totp).is_none());
        // The same file included (spliced) lets `done` end the whole stack.
        let fs = files(&[
            (
                "/etc/pam.d/sshd",
                "auth include password-auth\nauth required pam_google_authenticator.so\n",
            ),
            (
                "/etc/pam.d/password-auth",
                "auth sufficient pam_unix.so\nauth required pam_deny.so\n",
            ),
        ]);
        let stack = resolve(&fs, "/etc/pam.d/sshd", PamType::Auth);
        assert!(success_without(&stack, &is_totp).is_some());
    }

    #[test]
    fn include_loops_are_reported() {
        let fs = files(&[("/etc/pam.d/a", "auth include a\n")]);
        let mut load = |p: &str| -> Result<Vec<PamLine>, Missing> {
            Ok(parse_pam_file(fs.get(p).ok_or_else(|| Missing(p.into()))?).unwrap())
        };
        assert!(matches!(
            resolve_stack("/etc/pam.d/a", PamType::Auth, &mut load),
            Err(ResolveError::TooDeep { .. })
        ));
    }

    #[test]
    fn rhel_password_stack_pwquality_takes_effect_pwhistory_after_sufficient_does_not() {
        let system_auth = "\
password    requisite                                    pam_pwquality.so local_users_only
password    sufficient                                   pam_unix.so yescrypt shadow nullok use_authtok
password    required                                     pam_pwhistory.so remember=5 use_authtok
password    required                                     pam_deny.so
";
        let fs = files(&[("/etc/pam.d/system-auth", system_auth)]);
        let stack = resolve(&fs, "/etc/pam.d/system-auth", PamType::Password);
        let pwq = |m: &ModuleLine| m.name() == "pam_pwquality";
        let hist = |m: &ModuleLine| m.name() == "pam_pwhistory";
        assert!(success_without(&stack, &pwq).is_none());
        let w = success_without(&stack, &hist).expect("pwhistory is skipped");
        assert_eq!(w.last().unwrap().module, "pam_unix");
    }
}
