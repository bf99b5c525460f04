//! A provider's deviations (documented behaviour deliberately broken, so tests can prove the
//! scenarios catch it) as an enum of its own, parsed once when the mock starts.
//!
//! Each provider derives its enum's names with `strum` and hands the same list to the registry,
//! so the names a test asks for, the registry's list and the mock's checks cannot drift apart:
//!
//! ```text
//! #[derive(Clone, Copy, PartialEq, Eq, Debug, strum::EnumString, strum::VariantNames)]
//! #[strum(serialize_all = "kebab-case")]
//! pub enum Deviation { AnswersUnallowlisted, OmitsNoStore }
//! pub const DEVIATIONS: &[&str] = <Deviation as strum::VariantNames>::VARIANTS;
//! let deviations = Deviations::<Deviation>::from_config(&config)?;
//! if deviations.has(Deviation::OmitsNoStore) { … }
//! ```

use std::fmt;
use std::str::FromStr;

use strum::VariantNames;

use super::super::MockConfig;

/// The deviations a mock was started with.
#[derive(Clone, PartialEq, Eq)]
pub struct Deviations<D> {
    on: Vec<D>,
}

impl<D> fmt::Debug for Deviations<D>
where
    D: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(&self.on).finish()
    }
}

impl<D> Deviations<D>
where
    D: Copy + PartialEq + FromStr + VariantNames,
{
    /// Returns no deviation: the documented behaviour.
    pub fn none() -> Self {
        Self { on: Vec::new() }
    }

    /// Parses the names of `config.deviations`.
    ///
    /// # Errors
    /// A name the provider does not know, with the names it knows (the registry refuses it
    /// first; this keeps a mock started directly just as strict).
    pub fn from_config(config: &MockConfig) -> Result<Self, String> {
        Self::parse(config.deviations.iter().map(String::as_str))
    }

    /// Parses the names of `config.deviations` that are not in `others`: a mock whose variants
    /// are two enums (its deviations and its conformant variants) parses each enum's names
    /// apart, passing the other enum's names as `others`.
    ///
    /// # Errors
    /// A name in neither this enum nor `others`.
    pub fn from_config_among(config: &MockConfig, others: &[&str]) -> Result<Self, String> {
        Self::parse(
            config
                .deviations
                .iter()
                .map(String::as_str)
                .filter(|name| !others.contains(name)),
        )
    }

    /// Parses deviation names.
    ///
    /// # Errors
    /// As [`Deviations::from_config`].
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut on = Vec::new();
        for name in names {
            let Ok(deviation) = name.parse::<D>() else {
                return Err(format!(
                    "unknown deviation `{name}`: this mock knows `{}`",
                    D::VARIANTS.join("`, `")
                ));
            };
            on.push(deviation);
        }
        Ok(Self { on })
    }

    /// Tells whether `deviation` was asked for.
    pub fn has(&self, deviation: D) -> bool {
        self.on.contains(&deviation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, PartialEq, Eq, Debug, strum::EnumString, strum::VariantNames)]
    #[strum(serialize_all = "kebab-case")]
    enum Sample {
        OmitsNoStore,
        #[strum(serialize = "401-for-missing-permission")]
        UnauthorizedForPermission,
    }

    #[test]
    fn names_parse_to_their_variants() {
        assert_eq!(
            Sample::VARIANTS,
            ["omits-no-store", "401-for-missing-permission"]
        );
        let on = Deviations::<Sample>::parse(["401-for-missing-permission"]).expect("known");
        assert!(on.has(Sample::UnauthorizedForPermission));
        assert!(!on.has(Sample::OmitsNoStore));
        assert!(!Deviations::<Sample>::none().has(Sample::OmitsNoStore));
    }

    #[derive(Clone, Copy, PartialEq, Eq, Debug, strum::EnumString, strum::VariantNames)]
    #[strum(serialize_all = "kebab-case")]
    enum OtherChoice {
        HtmlErrorPage,
    }

    #[test]
    fn each_enum_takes_its_own_names_from_one_list() {
        let config = MockConfig {
            clock: std::sync::Arc::new(crate::clock::VirtualClock::new()),
            secrets: Default::default(),
            deviations: vec!["html-error-page".into(), "omits-no-store".into()],
        };
        let broken =
            Deviations::<Sample>::from_config_among(&config, OtherChoice::VARIANTS).expect("ok");
        let chosen =
            Deviations::<OtherChoice>::from_config_among(&config, Sample::VARIANTS).expect("ok");
        assert!(broken.has(Sample::OmitsNoStore));
        assert!(!broken.has(Sample::UnauthorizedForPermission));
        assert!(chosen.has(OtherChoice::HtmlErrorPage));
        // A name of neither enum is still an error.
        let config = MockConfig {
            deviations: vec!["html-eror-page".into()],
            ..config
        };
        assert!(Deviations::<Sample>::from_config_among(&config, OtherChoice::VARIANTS).is_err());
    }

    #[test]
    fn an_unknown_name_is_an_error_naming_the_known_ones() {
        let error =
            Deviations::<Sample>::parse(["omits-no-store", "omits-nostore"]).expect_err("unknown");
        assert_eq!(
            error,
            "unknown deviation `omits-nostore`: this mock knows `omits-no-store`, \
             `401-for-missing-permission`"
        );
        // Names are exact: no case folding, no spelling variants.
        assert!(Deviations::<Sample>::parse(["Omits-No-Store"]).is_err());
    }
}
