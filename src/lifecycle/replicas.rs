//! Other regions (`REPLICATE_TO`): after the home region's publish, the same
//! zip is published in each region listed, from a bucket of that region
//! (Lambda takes a layer's content only from its own region). Each region
//! decides on its own versions, so a redelivery publishes only where this
//! lock file is missing; the home region's lease covers them all. This is
//! the setting and its rules; the act is a publish, in `publish/replicate.rs`.

/// One region to publish in, and the bucket of that region the zip is
/// copied to first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub region: String,
    pub bucket: String,
}

/// Parses `REPLICATE_TO`: `region=bucket,region=bucket`.
pub fn parse_list(text: &str) -> Result<Vec<Target>, String> {
    let mut targets: Vec<Target> = Vec::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((region, bucket)) = entry.split_once('=') else {
            return Err(format!("{entry:?} is not region=bucket"));
        };
        let (region, bucket) = (region.trim(), bucket.trim());
        if !is_region(region) {
            return Err(format!("{region:?} is not a region such as eu-west-1"));
        }
        if !is_bucket_name(bucket) {
            return Err(format!("{bucket:?} is not an S3 bucket name"));
        }
        if targets.iter().any(|t| t.region == region) {
            return Err(format!("{region} is listed twice"));
        }
        targets.push(Target {
            region: region.to_owned(),
            bucket: bucket.to_owned(),
        });
    }
    Ok(targets)
}

/// `eu-west-1`, `us-gov-west-1`, `cn-north-1`, `ap-southeast-5`.
fn is_region(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty())
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
}

/// S3's rules for bucket names, as far as an ARN built from one cares.
fn is_bucket_name(text: &str) -> bool {
    (3..=63).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && text.starts_with(|c: char| c.is_ascii_alphanumeric())
        && text.ends_with(|c: char| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_and_their_buckets_are_read() {
        let targets = parse_list("eu-west-1=layers-eu, us-gov-west-1 = layers.gov,,").unwrap();
        assert_eq!(
            targets,
            [
                Target {
                    region: "eu-west-1".into(),
                    bucket: "layers-eu".into()
                },
                Target {
                    region: "us-gov-west-1".into(),
                    bucket: "layers.gov".into()
                },
            ]
        );
        assert_eq!(parse_list(""), Ok(Vec::new()));
    }

    #[test]
    fn what_is_not_a_region_and_a_bucket_is_refused() {
        for bad in [
            "eu-west-1",
            "eu-west-1=",
            "=bucket",
            "europe=layers",
            "eu-west-one=layers",
            "EU-west-1=layers",
            "eu-west-1=Layers",
            "eu-west-1=ab",
            "eu-west-1=a,eu-west-1=b",
            "eu-west-1=-layers",
        ] {
            assert!(parse_list(bad).is_err(), "{bad:?} accepted");
        }
    }
}
