//! Account binding to IP and MAC allow-lists: parsing and normalising entries, reading a client's
//! MAC address from the kernel's ARP table, and the allow decision. Owns no state.

use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// What an account may connect from. Empty lists mean "anywhere".
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct AllowList {
    /// Addresses or networks, e.g. `192.168.1.20` or `192.168.1.0/24`.
    pub ips: Vec<IpNet>,
    /// MAC addresses, lower-case `aa:bb:cc:dd:ee:ff`.
    pub macs: Vec<String>,
}

/// Parses `192.168.1.20` or `192.168.1.0/24`.
pub fn parse_ip(entry: &str) -> Result<IpNet, Error> {
    let e = entry.trim();
    e.parse::<IpNet>()
        .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| {
            Error::invalid(
                "allowed_ip_format",
                "allowed_ips",
                format!(
                    "\"{e}\" is not an IP address or network (e.g. 192.168.1.20 or 192.168.1.0/24)"
                ),
            )
        })
}

/// Parses a MAC address written with `:` or `-` separators, any case.
pub fn parse_mac(entry: &str) -> Result<String, Error> {
    let e = entry.trim();
    let parts: Vec<&str> = e.split([':', '-']).collect();
    if parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
    {
        Ok(parts.join(":").to_lowercase())
    } else {
        Err(Error::invalid(
            "allowed_mac_format",
            "allowed_macs",
            format!("\"{e}\" is not a MAC address (e.g. 3c:ef:8c:01:02:03)"),
        ))
    }
}

impl AllowList {
    pub fn parse(ips: &[String], macs: &[String]) -> Result<AllowList, Error> {
        if ips.len() > 32 || macs.len() > 32 {
            return Err(Error::invalid(
                "allow_list_too_long",
                if ips.len() > 32 {
                    "allowed_ips"
                } else {
                    "allowed_macs"
                },
                "at most 32 entries per allow-list",
            ));
        }
        Ok(AllowList {
            ips: ips.iter().map(|s| parse_ip(s)).collect::<Result<_, _>>()?,
            macs: macs
                .iter()
                .map(|s| parse_mac(s))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Whether a client at `ip` may use the account; `arp` is the ARP table file.
    pub fn allows(&self, ip: IpAddr, arp: &Path) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map(IpAddr::V4)
                .unwrap_or(IpAddr::V6(v6)),
            v4 => v4,
        };
        if !self.ips.is_empty() && !self.ips.iter().any(|n| n.contains(&ip)) {
            return false;
        }
        if !self.macs.is_empty() {
            match mac_of(ip, arp) {
                Some(mac) => return self.macs.contains(&mac),
                None => return false,
            }
        }
        true
    }
}

/// The MAC address of `ip` in the ARP table at `arp` (format of `/proc/net/arp`), if complete.
pub fn mac_of(ip: IpAddr, arp: &Path) -> Option<String> {
    let text = std::fs::read_to_string(arp).ok()?;
    parse_arp(&text, ip)
}

pub fn parse_arp(text: &str, ip: IpAddr) -> Option<String> {
    let wanted = ip.to_string();
    text.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        // IP address, HW type, Flags, HW address, Mask, Device; flags 0x0 = incomplete
        if cols.len() >= 4 && cols[0] == wanted && cols[2] != "0x0" {
            parse_mac(cols[3]).ok()
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARP: &str =
        "IP address       HW type     Flags       HW address            Mask     Device\n\
192.168.1.20     0x1         0x2         3c:ef:8c:01:02:03     *        eth0\n\
192.168.1.21     0x1         0x0         00:00:00:00:00:00     *        eth0\n";

    #[test]
    fn arp_lookup_and_decision() {
        assert_eq!(
            parse_arp(ARP, [192, 168, 1, 20].into()).as_deref(),
            Some("3c:ef:8c:01:02:03")
        );
        assert_eq!(parse_arp(ARP, [192, 168, 1, 21].into()), None);
        assert_eq!(parse_arp("garbage\n\u{0}\n", [1, 1, 1, 1].into()), None);
        let l = AllowList::parse(&["192.168.1.0/24".into()], &[]).unwrap();
        let nowhere = Path::new("/nonexistent");
        assert!(l.allows([192, 168, 1, 9].into(), nowhere));
        assert!(!l.allows([192, 168, 2, 9].into(), nowhere));
        assert_eq!(parse_mac("3C-EF-8C-01-02-03").unwrap(), "3c:ef:8c:01:02:03");
        assert!(parse_mac("3c:ef:8c:01:02").is_err());
        assert!(parse_ip("300.1.1.1").is_err());
    }
}
