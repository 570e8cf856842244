//! The model caches a package carries, each once, with the choices made
//! for it: the node whose image's tools fill or list it, the profiles
//! chosen for it and where its files come from (a folder given as it is,
//! or the tool's store). The estimate and `create_package` both read these
//! choices from here.

use std::path::Path;

use crate::catalog::Node;
use crate::models::{ModelError, ModelStore};
use crate::package::ModelOptions;

/// One model cache of a package, and what was chosen for it.
#[derive(Debug, Clone)]
pub(crate) struct CachePlan<'a> {
    /// Its name.
    pub name: &'a str,
    /// The first node that uses it: its image's tools fill or list it.
    pub node: &'a Node,
    /// The profiles chosen for it (for every cache, or for this one);
    /// empty: none chosen.
    pub chosen: Vec<String>,
    /// Where its files come from.
    pub from: CacheFrom<'a>,
}

/// Where the files of a model cache come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CacheFrom<'a> {
    /// A folder given for it, used as it is.
    Given(&'a Path),
    /// The store of the caches the tool fills itself.
    Store(&'a ModelStore),
    /// Nowhere: no folder was given and there is no store.
    NoStore,
}

impl<'a> CachePlan<'a> {
    /// The caches of `nodes`, each once, in the order the nodes name them;
    /// none when `models` leaves the models out.
    pub(crate) fn all(nodes: &'a [Node], models: &'a ModelOptions) -> Vec<Self> {
        let mut caches: Vec<Self> = Vec::new();
        if models.skip {
            return caches;
        }
        for node in nodes {
            let Some(model) = &node.model else { continue };
            if caches.iter().any(|c| c.name == model.cache) {
                continue;
            }
            let name = model.cache.as_str();
            let for_this = |cache: &Option<String>| cache.as_deref().is_none_or(|n| n == name);
            caches.push(Self {
                name,
                node,
                chosen: models
                    .profiles
                    .iter()
                    .filter(|choice| for_this(&choice.cache))
                    .map(|choice| choice.id.clone())
                    .collect(),
                from: match models.given.iter().find(|given| for_this(&given.cache)) {
                    Some(given) => CacheFrom::Given(&given.dir),
                    None => models
                        .store
                        .as_ref()
                        .map_or(CacheFrom::NoStore, CacheFrom::Store),
                },
            });
        }
        caches
    }

    /// The profiles it would carry: the chosen ones, else the catalog's
    /// defaults; empty: every profile.
    pub(crate) fn profiles(&self) -> Vec<String> {
        match (&self.chosen[..], &self.node.model) {
            ([], Some(model)) => model.profiles.clone(),
            (chosen, _) => chosen.to_vec(),
        }
    }
}

/// Refuses a profile or a folder that `models` names for a cache none of
/// `caches` is, and a folder named for no cache when there are several.
pub(crate) fn check_names(caches: &[CachePlan], models: &ModelOptions) -> Result<(), ModelError> {
    let names: Vec<String> = caches.iter().map(|c| c.name.to_owned()).collect();
    let known = |name: &Option<String>| -> Result<(), ModelError> {
        match name {
            Some(name) if !names.contains(name) => Err(ModelError::UnknownCache {
                name: name.clone(),
                known: names.clone(),
            }),
            _ => Ok(()),
        }
    };
    for choice in &models.profiles {
        known(&choice.cache)?;
    }
    for given in &models.given {
        known(&given.cache)?;
        if given.cache.is_none() && names.len() > 1 {
            return Err(ModelError::WhichCache { caches: names });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{CacheFolder, ProfileChoice};
    use crate::package::plan::tests::nodes;

    #[test]
    fn each_cache_once_with_the_choices_for_it() {
        let nodes = nodes(&["FLUX Dev", "FLUX Canny", "Demo"]);
        let models = ModelOptions {
            profiles: vec![
                ProfileChoice {
                    cache: None,
                    id: "p-all".into(),
                },
                ProfileChoice {
                    cache: Some("demo".into()),
                    id: "p-demo".into(),
                },
            ],
            given: vec![CacheFolder {
                cache: Some("flux-dev".into()),
                dir: "/given".into(),
            }],
            ..Default::default()
        };
        let caches = CachePlan::all(&nodes, &models);
        let names: Vec<&str> = caches.iter().map(|c| c.name).collect();
        assert_eq!(names, ["flux-dev", "demo"], "one cache for Dev and Canny");
        assert_eq!(caches[0].node.name, "FLUX Dev");
        assert_eq!(caches[0].chosen, ["p-all"]);
        assert_eq!(caches[0].from, CacheFrom::Given(Path::new("/given")));
        assert_eq!(caches[1].chosen, ["p-all", "p-demo"]);
        assert_eq!(caches[1].from, CacheFrom::NoStore);
        check_names(&caches, &models).unwrap();

        let store = ModelStore::new("/store".into());
        let stored = ModelOptions {
            store: Some(store.clone()),
            ..models.clone()
        };
        let caches = CachePlan::all(&nodes, &stored);
        assert_eq!(
            caches[0].from,
            CacheFrom::Given(Path::new("/given")),
            "a given folder first"
        );
        assert_eq!(caches[1].from, CacheFrom::Store(&store));

        let skip = ModelOptions {
            skip: true,
            ..models
        };
        assert!(CachePlan::all(&nodes, &skip).is_empty());
    }

    #[test]
    fn the_catalog_defaults_stand_in_for_no_choice() {
        let nodes = nodes(&["FLUX Dev", "Demo"]);
        let models = ModelOptions::default();
        let caches = CachePlan::all(&nodes, &models);
        assert_eq!(caches[0].profiles(), Vec::<String>::new(), "every profile");
        assert_eq!(caches[1].profiles(), ["demo-base-cpu"]);
    }

    #[test]
    fn names_of_no_cache_and_one_folder_for_several_are_refused() {
        let nodes = nodes(&["FLUX Dev", "Demo"]);
        let unknown = ModelOptions {
            profiles: vec![ProfileChoice {
                cache: Some("other".into()),
                id: "p".into(),
            }],
            ..Default::default()
        };
        let caches = CachePlan::all(&nodes, &unknown);
        assert!(matches!(
            check_names(&caches, &unknown),
            Err(ModelError::UnknownCache { name, known }) if name == "other" && known == ["flux-dev", "demo"]
        ));
        let which = ModelOptions {
            given: vec![CacheFolder {
                cache: None,
                dir: "/given".into(),
            }],
            ..Default::default()
        };
        let caches = CachePlan::all(&nodes, &which);
        assert!(matches!(
            check_names(&caches, &which),
            Err(ModelError::WhichCache { .. })
        ));
    }
}
