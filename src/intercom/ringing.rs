//! Who rings for a call to the management centre (manual 3.4), as a pure function: a building's
//! call group rings its members (manager clients and VTS) one after the other in priority order;
//! without a group the platform's manager clients all ring together; a fence station's calls only
//! go to the platform; a VTS makes no calls. Holds no state; the SIP issue applies the answer.

/// Kinds of intercom devices (manual 3.2).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// Unit door station.
    Vto,
    FenceStation,
    VillaStation,
    /// Indoor monitor.
    Vth,
    /// Master station.
    Vts,
    AccessController,
    /// A manager's softphone on the platform.
    ManagerClient,
}

/// A call group: buildings it serves and members in priority order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group<M> {
    pub buildings: Vec<u64>,
    pub members: Vec<M>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ringing<M> {
    /// One after the other, each for the group's ring time.
    InTurn(Vec<M>),
    /// All at once; the first to answer takes the call.
    Together(Vec<M>),
    /// No call is placed.
    Refused(&'static str),
}

/// The answer for a call to the management centre from a device of `kind` in `building`.
pub fn management_centre<M: Clone>(
    kind: DeviceKind,
    building: Option<u64>,
    groups: &[Group<M>],
    platform_managers: &[M],
) -> Ringing<M> {
    let platform = || {
        if platform_managers.is_empty() {
            Ringing::Refused("no manager client is registered on the platform")
        } else {
            Ringing::Together(platform_managers.to_vec())
        }
    };
    match kind {
        DeviceKind::Vts => Ringing::Refused("a VTS makes no calls"),
        DeviceKind::ManagerClient | DeviceKind::AccessController => {
            Ringing::Refused("only door stations and indoor monitors call the management centre")
        }
        DeviceKind::FenceStation => platform(),
        DeviceKind::Vto | DeviceKind::VillaStation | DeviceKind::Vth => {
            match building.and_then(|b| groups.iter().find(|g| g.buildings.contains(&b))) {
                Some(g) if !g.members.is_empty() => Ringing::InTurn(g.members.clone()),
                _ => platform(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups() -> Vec<Group<&'static str>> {
        vec![
            Group {
                buildings: vec![1, 2],
                members: vec!["vts-101", "mgr-alice", "mgr-bob"],
            },
            Group {
                buildings: vec![3],
                members: vec![],
            },
        ]
    }
    const PLATFORM: &[&str] = &["mgr-alice", "mgr-bob", "mgr-carol"];

    #[test]
    fn a_grouped_building_rings_its_members_in_order() {
        assert_eq!(
            management_centre(DeviceKind::Vto, Some(2), &groups(), PLATFORM),
            Ringing::InTurn(vec!["vts-101", "mgr-alice", "mgr-bob"])
        );
        assert_eq!(
            management_centre(DeviceKind::Vth, Some(1), &groups(), PLATFORM),
            Ringing::InTurn(vec!["vts-101", "mgr-alice", "mgr-bob"])
        );
    }

    #[test]
    fn no_group_rings_the_platform_together() {
        assert_eq!(
            management_centre(DeviceKind::Vto, Some(9), &groups(), PLATFORM),
            Ringing::Together(PLATFORM.to_vec())
        );
        assert_eq!(
            management_centre(DeviceKind::Vto, Some(3), &groups(), PLATFORM),
            Ringing::Together(PLATFORM.to_vec()),
            "an empty group is no group"
        );
        assert_eq!(
            management_centre(DeviceKind::VillaStation, None, &groups(), PLATFORM),
            Ringing::Together(PLATFORM.to_vec())
        );
    }

    #[test]
    fn fence_station_only_the_platform_and_vts_never() {
        assert_eq!(
            management_centre(DeviceKind::FenceStation, Some(1), &groups(), PLATFORM),
            Ringing::Together(PLATFORM.to_vec())
        );
        assert!(matches!(
            management_centre(DeviceKind::Vts, Some(1), &groups(), PLATFORM),
            Ringing::Refused(_)
        ));
        assert!(matches!(
            management_centre(DeviceKind::ManagerClient, Some(1), &groups(), PLATFORM),
            Ringing::Refused(_)
        ));
        assert!(matches!(
            management_centre::<&str>(DeviceKind::FenceStation, None, &[], &[]),
            Ringing::Refused(_)
        ));
    }
}
