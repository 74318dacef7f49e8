//! Sharing each new version (`SHARE_WITH`): who may use it, and the
//! `lambda:GetLayerVersion` grant each gets, under a statement id that is
//! the same every time, so that granting again is a no-op.

use crate::domain::values::LayerVersion;
use crate::error::Problem;
use crate::ports::Layer;
use tracing::info;
/// Who a version is shared with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grantee {
    /// One AWS account, by its 12-digit id.
    Account(String),
    /// Every account of an AWS Organization (`o-…`).
    Organization(String),
    /// Every AWS account (`*`).
    Public,
}

use crate::domain::values::Grant;

impl Grantee {
    /// `SHARE_WITH`'s items: account ids, an organization id, or `*`.
    pub fn parse_list(text: &str) -> Result<Vec<Grantee>, String> {
        let mut grantees = Vec::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let grantee = Self::parse(item)?;
            if !grantees.contains(&grantee) {
                grantees.push(grantee);
            }
        }
        Ok(grantees)
    }

    fn parse(item: &str) -> Result<Grantee, String> {
        let lower_alnum = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        };
        if item == "*" {
            Ok(Self::Public)
        } else if item.len() == 12 && item.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self::Account(item.to_owned()))
        } else if let Some(id) = item.strip_prefix("o-") {
            if (10..=32).contains(&id.len()) && lower_alnum(id) {
                Ok(Self::Organization(item.to_owned()))
            } else {
                Err(format!("{item:?} is not an organization id (o- and 10 to 32 lowercase letters or digits)"))
            }
        } else {
            Err(format!(
                "{item:?} is neither a 12-digit account id, an organization id (o-...) nor *"
            ))
        }
    }

    /// The grant, with its stable statement id.
    pub fn grant(&self) -> Grant {
        let (statement_id, principal, organization_id) = match self {
            Self::Account(id) => (format!("layer-autopublish-{id}"), id.clone(), None),
            Self::Organization(id) => (
                format!("layer-autopublish-{id}"),
                "*".to_owned(),
                Some(id.clone()),
            ),
            Self::Public => ("layer-autopublish-public".to_owned(), "*".to_owned(), None),
        };
        Grant {
            statement_id,
            principal,
            organization_id,
        }
    }
}

/// The act, run after each publish (`publish/write.rs`), at home and in
/// each region. `SHARE_WITH` (`grantees`): `lambda:GetLayerVersion` on
/// `version` for each, under statement ids that make granting again a no-op.
pub(crate) async fn share(
    aws: &impl Layer, grantees: &[Grantee], layer: &str, version: &LayerVersion,
) -> Result<(), Problem> {
    for grantee in grantees {
        let grant = grantee.grant();
        aws.share(layer, version.version, &grant).await?;
        info!(layer = %layer, version = version.version, statement = %grant.statement_id, "version shared");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_an_organization_or_everyone() {
        let parsed = Grantee::parse_list("123456789012, o-a1b2c3d4e5,*,123456789012").unwrap();
        assert_eq!(
            parsed,
            [
                Grantee::Account("123456789012".into()),
                Grantee::Organization("o-a1b2c3d4e5".into()),
                Grantee::Public
            ]
        );
        assert_eq!(Grantee::parse_list(""), Ok(vec![]));
        for bad in [
            "12345",
            "o-short",
            "o-UPPERCASE123",
            "arn:aws:iam::123456789012:root",
            "**",
        ] {
            assert!(Grantee::parse_list(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn each_grant_has_a_statement_id_of_its_own_that_never_changes() {
        let grants: Vec<Grant> = Grantee::parse_list("123456789012,o-a1b2c3d4e5,*")
            .unwrap()
            .iter()
            .map(Grantee::grant)
            .collect();
        assert_eq!(grants[0].statement_id, "layer-autopublish-123456789012");
        assert_eq!(grants[0].principal, "123456789012");
        assert_eq!(grants[1].statement_id, "layer-autopublish-o-a1b2c3d4e5");
        assert_eq!(
            (
                grants[1].principal.as_str(),
                grants[1].organization_id.as_deref()
            ),
            ("*", Some("o-a1b2c3d4e5"))
        );
        assert_eq!(grants[2].statement_id, "layer-autopublish-public");
        assert_eq!(
            (
                grants[2].principal.as_str(),
                grants[2].organization_id.as_deref()
            ),
            ("*", None)
        );
    }
}
