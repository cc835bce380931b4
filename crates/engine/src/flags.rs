//! System flags as a bitmask (what the store keeps) plus keywords.

pub const SEEN: u32 = 1;
pub const ANSWERED: u32 = 2;
pub const FLAGGED: u32 = 4;
pub const DELETED: u32 = 8;
pub const DRAFT: u32 = 16;

/// System flag names in wire form, with their bits, in the order Dovecot lists them.
pub const SYSTEM: [(&str, u32); 5] = [
    ("\\Answered", ANSWERED),
    ("\\Flagged", FLAGGED),
    ("\\Deleted", DELETED),
    ("\\Seen", SEEN),
    ("\\Draft", DRAFT),
];

/// A message's flags: system bits and keywords.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    pub system: u32,
    pub keywords: Vec<String>,
}

impl Flags {
    /// Keywords as the store keeps them (space separated).
    pub fn keywords_joined(&self) -> String {
        self.keywords.join(" ")
    }

    pub fn from_stored(system: u32, keywords: &str) -> Flags {
        Flags {
            system,
            keywords: keywords.split_whitespace().map(str::to_string).collect(),
        }
    }

    /// Wire names of all flags, system flags first.
    pub fn names(&self) -> Vec<String> {
        self.names_with_recent(false)
    }

    /// Wire names with `\\Recent` (a per-session flag) after the system flags.
    pub fn names_with_recent(&self, recent: bool) -> Vec<String> {
        let mut out: Vec<String> = SYSTEM
            .iter()
            .filter(|(_, bit)| self.system & bit != 0)
            .map(|(name, _)| name.to_string())
            .collect();
        if recent {
            out.push("\\Recent".to_string());
        }
        out.extend(self.keywords.iter().cloned());
        out
    }
}

/// Parses a flag name: returns the system bit, or None for a keyword.
pub fn system_bit(name: &str) -> Option<u32> {
    SYSTEM
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, bit)| *bit)
}
