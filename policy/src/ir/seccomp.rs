//! The seccomp tier of the IR: rules in order, and per arch the verdict of every syscall
//! whose verdict is not simply the default.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::text::{self, de_hex_opt, de_hex_u32, de_hex_vec, ser_hex_opt, ser_hex_u32, ser_hex_vec};
use crate::action::Action;
use crate::error::Origin;
use crate::syscalls::Arch;
use crate::vocab::CapSet;

/// A kernel version `major.minor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KernelVersion(pub u32, pub u32);

impl KernelVersion {
    /// Parse `"4.8"` or `"5.10.3"`.
    pub fn parse(s: &str) -> Option<KernelVersion> {
        let mut it = s.trim().split('.');
        let major = it.next()?.parse().ok()?;
        let minor = it.next().map(|m| m.parse().ok()).unwrap_or(Some(0))?;
        Some(KernelVersion(major, minor))
    }

    /// Read a Docker profile's `minKernel` as moby does (`fmt.Sscanf(release, "%d.%d")` into
    /// unsigned fields): leading blanks, decimal `major.minor`, and anything after it ignored
    /// (`"5.10.3-rc1"` is 5.10). The minor part is required.
    pub fn parse_docker(s: &str) -> Option<KernelVersion> {
        let s = s.trim_start();
        let number = |s: &str| -> Option<(u32, usize)> {
            let s = s.strip_prefix('+').map_or((s, 0), |r| (r, 1));
            let digits = s.0.bytes().take_while(u8::is_ascii_digit).count();
            Some((s.0[..digits].parse().ok()?, s.1 + digits))
        };
        let (major, used) = number(s)?;
        let rest = s[used..].strip_prefix('.')?;
        let (minor, _) = number(rest)?;
        Some(KernelVersion(major, minor))
    }
}

impl std::fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

impl Serialize for KernelVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for KernelVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        KernelVersion::parse(&s).ok_or_else(|| D::Error::custom(format!("`{s}` is not a kernel version")))
    }
}

/// The seccomp tier.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeccompIr {
    /// When no rule matches.
    pub default_action: Action,
    /// For numbers not in the arch's table (with [`SeccompIr::enosys_after`]: the default, as
    /// libseccomp gives it, for those at or below the cut-off).
    pub unknown_action: Action,
    /// `unknown: enosys-after ...`, runc's ENOSYS stub: per arch, the number above which a
    /// call no rule decides gets ENOSYS, known to the table or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enosys_after: Option<EnosysAfterIr>,
    /// Accepted arches; every other one gets kill-process.
    #[serde(serialize_with = "ser_arches", deserialize_with = "de_arches")]
    pub arches: Vec<Arch>,
    /// The rules in order (the last matching one wins).
    pub rules: Vec<RuleIr>,
    /// Per arch: the syscalls whose verdict is not simply the default.
    pub tables: BTreeMap<String, ArchTable>,
}

fn ser_arches<S: Serializer>(arches: &[Arch], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(arches.iter().map(|a| a.name()))
}

fn de_arches<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Arch>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|a| Arch::parse(a).ok_or_else(|| D::Error::custom(format!("unknown arch `{a}`"))))
        .collect()
}

/// `unknown: enosys-after NAME` or `unknown: enosys-after-named` resolved per arch: a call that
/// no rule decides gets ENOSYS when its number is above the arch's cut-off, else the default
/// (numbers outside the table included, as libseccomp gives them the default). This is runc's
/// ENOSYS stub (`libcontainer/seccomp/patchbpf`), which runc puts in front of libseccomp's
/// filter unless the default is allow, log or trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnosysAfterIr {
    /// The syscall whose number is the cut-off on each arch; `None`
    /// (`enosys-after-named`): on each arch, the largest number that a rule of `rules` in force
    /// there names, as runc takes the largest number the JSON names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syscall: Option<String>,
    /// Per arch (by name): the cut-off, as the table numbers it (x32's with the x32 bit). An
    /// arch not listed has none: every call no rule decides gets the default there (runc adds
    /// no stub for an arch it finds no syscall for).
    pub above: BTreeMap<String, u32>,
}

impl EnosysAfterIr {
    /// The cut-off of `arch`, if it has one.
    pub fn cutoff(&self, arch: Arch) -> Option<u32> {
        self.above.get(arch.name()).copied()
    }

    /// Whether a call of `arch` numbered `nr` that no rule decides gets ENOSYS: above the
    /// arch's cut-off, and, as runc's stub does, number 0 on s390x (`setup`, gone for decades:
    /// the kernel leaves a multiplexed call it does not know there). Numbers are compared
    /// whole, as runc compares them: on x86-64, x32 numbers (the x32 bit set) against x32's
    /// cut-off, which carries the bit too, and numbers with bit 31 are above every cut-off.
    pub fn stubs(&self, arch: Arch, nr: u32) -> bool {
        self.cutoff(arch).is_some_and(|c| nr > c || (nr == 0 && matches!(arch, Arch::S390x | Arch::S390)))
    }

    /// The profile's words: `enosys-after NAME` or `enosys-after-named`.
    pub fn spelling(&self) -> String {
        match &self.syscall {
            Some(s) => format!("enosys-after {s}"),
            None => "enosys-after-named".into(),
        }
    }
}

/// One rule, resolved.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleIr {
    /// Syscall names (groups expanded, sorted).
    pub syscalls: Vec<String>,
    /// What a matching call gets.
    pub action: Action,
    /// Argument conditions (all must hold).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<ArgCondIr>,
    /// When the rule is in force.
    #[serde(default, skip_serializing_if = "WhenIr::is_empty")]
    pub when: WhenIr,
    /// Whether the capability conditions hold for this profile's capabilities.
    pub active: bool,
    /// Where the rule is written.
    #[serde(with = "text::origin")]
    pub origin: Origin,
    /// Comment from the profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

impl RuleIr {
    /// Whether the rule names `syscall`.
    pub fn names(&self, syscall: &str) -> bool {
        self.syscalls.binary_search_by(|s| s.as_str().cmp(syscall)).is_ok()
    }
}

/// Rule conditions.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WhenIr {
    /// All of these capabilities granted.
    #[serde(default, skip_serializing_if = "CapSet::is_empty")]
    pub caps_present: CapSet,
    /// None of these capabilities granted.
    #[serde(default, skip_serializing_if = "CapSet::is_empty")]
    pub caps_absent: CapSet,
    /// Host arches (Docker names) the rule is limited to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arches: Vec<String>,
    /// Host arches where the rule does not apply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_arches: Vec<String>,
    /// Minimum kernel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_kernel: Option<KernelVersion>,
}

impl WhenIr {
    /// No condition at all.
    pub fn is_empty(&self) -> bool {
        *self == WhenIr::default()
    }

    /// Whether the arch conditions admit `host`.
    pub fn host_ok(&self, host: &str) -> bool {
        (self.arches.is_empty() || self.arches.iter().any(|a| a == host))
            && !self.not_arches.iter().any(|a| a == host)
    }

    /// Whether the kernel condition holds for `kernel` (`None` = a current kernel, which
    /// satisfies every minimum).
    pub fn kernel_ok(&self, kernel: Option<KernelVersion>) -> bool {
        match (self.min_kernel, kernel) {
            (Some(min), Some(k)) => k >= min,
            _ => true,
        }
    }

    /// Whether the capability conditions hold for `granted`.
    pub fn caps_ok(&self, granted: CapSet) -> bool {
        self.caps_present.is_subset(granted) && (self.caps_absent & granted).is_empty()
    }

    /// Every capability the conditions mention.
    pub fn caps(&self) -> CapSet {
        self.caps_present | self.caps_absent
    }
}

/// Argument comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ArgOp {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Less than (unsigned).
    Lt,
    /// Less or equal (unsigned).
    Le,
    /// Greater than (unsigned).
    Gt,
    /// Greater or equal (unsigned).
    Ge,
    /// `arg & mask == value`.
    MaskedEq,
    /// One of `values`.
    In,
    /// None of `values`.
    NotIn,
}

impl ArgOp {
    /// The profile language's spelling.
    pub fn name(self) -> &'static str {
        match self {
            ArgOp::Eq => "eq",
            ArgOp::Ne => "ne",
            ArgOp::Lt => "lt",
            ArgOp::Le => "le",
            ArgOp::Gt => "gt",
            ArgOp::Ge => "ge",
            ArgOp::MaskedEq => "masked_eq",
            ArgOp::In => "in",
            ArgOp::NotIn => "not_in",
        }
    }
}

/// A condition on one argument.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
pub struct ArgCondIr {
    /// Argument index 0..=5.
    pub index: u8,
    /// Bits compared on 64-bit arches (32-bit arches always compare 32).
    pub width: u8,
    /// Operator.
    pub op: ArgOp,
    /// Value (`in`/`not_in`: the sorted values).
    #[serde(serialize_with = "ser_hex_vec", deserialize_with = "de_hex_vec")]
    pub values: Vec<u64>,
    /// Mask for `masked_eq`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_hex_opt",
        deserialize_with = "de_hex_opt"
    )]
    pub mask: Option<u64>,
}

impl ArgCondIr {
    /// Whether the condition holds for `arg` on an arch whose arguments are `arch32` bits.
    pub fn matches(&self, arg: u64, arch32: bool) -> bool {
        let w = if arch32 { 32 } else { self.width };
        let m = if w == 32 { u64::from(u32::MAX) } else { u64::MAX };
        let a = arg & m;
        let v = self.values.first().map(|v| v & m).unwrap_or(0);
        match self.op {
            ArgOp::Eq => a == v,
            ArgOp::Ne => a != v,
            ArgOp::Lt => a < v,
            ArgOp::Le => a <= v,
            ArgOp::Gt => a > v,
            ArgOp::Ge => a >= v,
            ArgOp::MaskedEq => a & self.mask.unwrap_or(0) & m == v,
            ArgOp::In => self.values.iter().any(|x| a == x & m),
            ArgOp::NotIn => !self.values.iter().any(|x| a == x & m),
        }
    }
}

/// One arch's resolved syscall verdicts.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchTable {
    /// `AUDIT_ARCH_*` value.
    #[serde(serialize_with = "ser_hex_u32", deserialize_with = "de_hex_u32")]
    pub audit_arch: u32,
    /// The host (Docker name) this arch runs under in this policy.
    pub host: String,
    /// Highest syscall number in the table (above it: the unknown verdict).
    pub max_nr: u32,
    /// Syscalls whose verdict is not plainly the default, by name.
    pub syscalls: BTreeMap<String, SyscallIr>,
}

/// A syscall's verdict on one arch. Serialized as `"NR VERDICT ORIGIN"` when it does not
/// depend on arguments, else as an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyscallIr {
    /// Number on this arch.
    pub nr: u32,
    /// Verdict when no conditional rule matches.
    pub action: Action,
    /// The rule that set it (`None`: the default).
    pub origin: Option<Origin>,
    /// Argument-dependent rules, in order; the last matching one wins over `action`.
    pub conditional: Vec<CondIr>,
}

/// How a verdict set by no rule (the default) is written.
const DEFAULT_ORIGIN: &str = "default";

impl Serialize for SyscallIr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let origin = match &self.origin {
            Some(o) => o.to_string(),
            None => DEFAULT_ORIGIN.to_string(),
        };
        if self.conditional.is_empty() {
            return s.collect_str(&format_args!("{} {} {origin}", self.nr, self.action));
        }
        let mut st = s.serialize_struct("SyscallIr", 4)?;
        st.serialize_field("nr", &self.nr)?;
        st.serialize_field("action", &self.action)?;
        st.serialize_field("origin", &origin)?;
        st.serialize_field("conditional", &self.conditional)?;
        st.end()
    }
}

impl SyscallIr {
    /// The verdict for a call with `args`: the last conditional entry whose conditions all
    /// hold, else `action`. `arch32`: the arch's arguments are 32 bits wide.
    pub fn verdict(&self, args: &[u64; 6], arch32: bool) -> Action {
        self.conditional
            .iter()
            .rev()
            .find(|c| c.args.iter().all(|a| a.matches(args[usize::from(a.index)], arch32)))
            .map_or(self.action, |c| c.action)
    }
}

/// The object form of [`SyscallIr`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SyscallObject {
    nr: u32,
    action: Action,
    origin: String,
    conditional: Vec<CondIr>,
}

fn syscall_origin<E: serde::de::Error>(origin: &str) -> Result<Option<Origin>, E> {
    match origin {
        DEFAULT_ORIGIN => Ok(None),
        o => text::origin::read(o).map(Some),
    }
}

impl<'de> Deserialize<'de> for SyscallIr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// Either form, read without buffering (the compile cache reads thousands of these).
        struct Form;
        impl<'de> serde::de::Visitor<'de> for Form {
            type Value = SyscallIr;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`NR VERDICT ORIGIN` or an object with nr, action, origin, conditional")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<SyscallIr, E> {
                let bad = || E::custom(format!("`{text}` is not `NR VERDICT ORIGIN`"));
                let mut it = text.splitn(3, ' ');
                let nr = it.next().and_then(|n| n.parse().ok()).ok_or_else(bad)?;
                let action = it.next().and_then(|a| Action::parse(a).ok()).ok_or_else(bad)?;
                let origin = syscall_origin(it.next().ok_or_else(bad)?)?;
                Ok(SyscallIr { nr, action, origin, conditional: Vec::new() })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<SyscallIr, A::Error> {
                let o = SyscallObject::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(SyscallIr {
                    nr: o.nr,
                    action: o.action,
                    origin: syscall_origin(&o.origin)?,
                    conditional: o.conditional,
                })
            }
        }
        d.deserialize_any(Form)
    }
}

/// An argument-dependent verdict.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CondIr {
    /// Conditions (AND).
    pub args: Vec<ArgCondIr>,
    /// What a matching call gets.
    pub action: Action,
    /// The rule it comes from.
    #[serde(with = "text::origin")]
    pub origin: Origin,
}
