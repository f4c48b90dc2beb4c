//! Migration proof of vmstate findings: what a real migration between the
//! baseline release's binary and the build showed (the recorder runs it),
//! attached to the findings of its direction. A backward finding is a
//! break once a real migration fails on its device; a failure that names
//! another device proves nothing about it.

use abi_model::drift::{Drift, Severity};

/// The vmstate rules whose findings a real migration can prove.
pub const VMSTATE_RULES: [&str; 3] = [
    "host-vmstate-break",
    "host-vmstate-backward",
    "host-vmstate-backward-version",
];

/// One migration's result, in one direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    /// Source release, e.g. `7.2.22`.
    pub from: String,
    /// Destination release, e.g. `10.0.2`.
    pub to: String,
    /// `Ok(None)`: the destination loaded the stream; `Ok(Some(reason))`:
    /// the load failed, in QEMU's words; `Err`: the migration could not be
    /// tried.
    pub result: Result<Option<String>, String>,
    /// What was left out, e.g. ` (without nvme: not migratable)`.
    pub note: String,
}

impl Proof {
    /// `proven: migration 7.2.22 → 10.0.2 of a never-started guest: …`.
    pub fn describe(&self) -> String {
        let head = format!("migration {} → {} of a never-started guest", self.from, self.to);
        match &self.result {
            Ok(None) => format!("proven: {head}: loaded{}", self.note),
            Ok(Some(why)) => format!("proven: {head}: load fails ({why}){}", self.note),
            Err(e) => format!("unproven: {head} could not be tried: {e}"),
        }
    }
}

/// The names a finding's device goes by in QEMU's messages: its section
/// (QOM type) and the first part of its field path (the description name).
fn names(d: &Drift) -> Vec<String> {
    let seg = d.path.segments();
    let Some(last) = seg.last() else { return Vec::new() };
    let mut words = last.split_whitespace();
    let section = words.next().unwrap_or("").to_string();
    let field = words.next().unwrap_or("");
    let desc = field.split(['.', '/']).next().unwrap_or("").to_string();
    [section, desc].into_iter().filter(|n| n.len() > 1).collect()
}

/// Attach `forward` (release → build) and `backward` (build → release) to
/// every vmstate finding of their direction. A backward finding whose
/// migration failed naming its device becomes a break.
pub fn attach(drifts: &mut [Drift], forward: &Proof, backward: &Proof) {
    for d in drifts.iter_mut().filter(|d| VMSTATE_RULES.contains(&d.rule.as_str())) {
        let is_backward = d.path.as_str().starts_with("host.vmstate.backward");
        let proof = if is_backward { backward } else { forward };
        let mut text = proof.describe();
        if let Ok(Some(why)) = &proof.result {
            let own = names(d).iter().any(|n| why.contains(n.as_str()));
            if !own {
                text.push_str("; the failure names another device, so it proves nothing about this one");
            } else if is_backward {
                d.severity = Severity::Break;
            }
        }
        d.detail = Some(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi_model::FactPath;

    fn backward(section_path: &str) -> Drift {
        crate::rules::drift(
            "host-vmstate-backward",
            FactPath::root()
                .child("host")
                .child("vmstate")
                .child("backward")
                .child(section_path),
            None,
            Some("subsection unknown to dst".into()),
        )
    }

    fn proof(result: Result<Option<String>, String>) -> Proof {
        Proof {
            from: "11.1.3".into(),
            to: "10.0.2".into(),
            result,
            note: String::new(),
        }
    }

    #[test]
    fn a_backward_finding_proven_on_its_device_is_a_break() {
        let mut d = vec![backward("nvme nvme/sub/"), backward("scsi-hd scsi-disk/pr/")];
        assert_eq!(d[0].severity, Severity::Warn);
        let failed = proof(Ok(Some(
            "State blocked by non-migratable device '0000:00:0b.0/nvme'; load of migration failed".into(),
        )));
        attach(&mut d, &proof(Ok(None)), &failed);
        assert_eq!(d[0].severity, Severity::Break, "{:?}", d[0]);
        assert!(d[0]
            .detail
            .as_deref()
            .unwrap_or("")
            .starts_with("proven: migration 11.1.3 → 10.0.2 of a never-started guest: load fails (State blocked"));
        assert_eq!(d[1].severity, Severity::Warn, "the failure is nvme's, not scsi-hd's");
        assert!(d[1]
            .detail
            .as_deref()
            .unwrap_or("")
            .ends_with("proves nothing about this one"));
    }

    #[test]
    fn loads_and_untried_migrations_keep_the_severity() {
        let mut d = vec![backward("isa-i8259 i8259/ltim/")];
        attach(&mut d, &proof(Ok(None)), &proof(Ok(None)));
        assert_eq!(d[0].severity, Severity::Warn);
        assert_eq!(
            d[0].detail.as_deref(),
            Some("proven: migration 11.1.3 → 10.0.2 of a never-started guest: loaded")
        );
        attach(&mut d, &proof(Ok(None)), &proof(Err("source: no such device".into())));
        assert_eq!(d[0].severity, Severity::Warn);
        assert!(d[0].detail.as_deref().unwrap_or("").starts_with("unproven: "));
    }
}
