//! The compiled route table of one deployment: `(method, path)` → resource, method definition
//! and extracted path parameters, by API Gateway's most-specific-match rules.
//!
//! Matching rules:
//! - Paths are case-sensitive; each request segment is percent-decoded before it is compared
//!   with a literal or captured by a parameter (`%2F` inside a segment stays inside it).
//! - At each level a literal segment beats `{param}`, which beats `{proxy+}`; if the more
//!   specific branch leads nowhere, the next one is tried (each trie node is visited at most
//!   once, so a lookup is linear in the table size in the worst case and a few hash lookups
//!   in practice).
//! - A resource exists at a node only if it was defined there: `/a/b/c` alone does not make
//!   `/a/b` routable.
//! - `{param}` matches one non-empty segment; `{proxy+}` matches one or more segments to the
//!   end (so `/{proxy+}` does not match `/`), and captures them as sent, decoded, with their
//!   slashes (and a trailing slash, which the backend may care about).
//! - One trailing slash is ignored for matching: `/pets/` is `/pets`. Other empty segments
//!   (`/pets//1`) only match inside a greedy parameter.
//! - The resource is chosen first, by path alone; then the method: the request's own, else
//!   `ANY`. A resource without either answers like an unknown path (API Gateway's 403
//!   `{"message":"Missing Authentication Token"}`), see [`Lookup`].

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::definition::model::{Api, HttpMethod, Method, Resource};
use crate::definition::path::{Segment, percent_decode};

/// The compiled routes of one API deployment. Immutable, `Send + Sync`, shared by every
/// stage that points at the deployment.
#[derive(Debug)]
pub struct RouteTable {
    api: Arc<Api>,
    nodes: Vec<Node>,
    resources: Vec<CompiledResource>,
    route_count: usize,
}

/// Identifies a `(resource, method)` of a table, dense from 0, for per-route side tables
/// (stage settings, metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RouteId(pub u32);

/// What a lookup found.
#[derive(Debug)]
pub enum Lookup<'t> {
    Matched(RouteMatch<'t>),
    /// A resource matched but defines neither the request's method nor `ANY`.
    MethodNotDefined {
        resource: &'t Resource,
    },
    /// No resource matched.
    NoResource,
}

/// A matched route.
#[derive(Debug)]
pub struct RouteMatch<'t> {
    pub route: RouteId,
    pub resource: &'t Resource,
    /// The method as defined: the request's own, or `Any`.
    pub method: HttpMethod,
    pub definition: &'t Method,
    pub path_params: PathParams<'t>,
}

/// Path parameters captured by a match, decoded, in path order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PathParams<'t>(Vec<(&'t str, String)>);

/// A hash map for the lookup tables. Their keys come from the definition (never from
/// requests), so flooding a table with colliding keys is not possible and SipHash's DoS
/// resistance buys nothing; FNV-1a is several times faster on short path segments.
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv1a>>;

/// 64-bit FNV-1a.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[derive(Debug, Default)]
struct Node {
    literals: FastMap<Box<str>, u32>,
    param: Option<(Box<str>, u32)>,
    greedy: Option<(Box<str>, u32)>,
    /// The resource defined exactly here.
    resource: Option<u32>,
}

#[derive(Debug)]
struct CompiledResource {
    /// Key into `api.resources`.
    path: String,
    /// Route id per [`HttpMethod::index`].
    methods: [Option<u32>; 8],
    /// Whether the path ends with a `{proxy+}` parameter.
    greedy_leaf: bool,
}

// === impl RouteTable ===

impl RouteTable {
    /// Compiles the routes of a validated API.
    pub fn new(api: Arc<Api>) -> Self {
        let mut nodes = vec![Node::default()];
        let mut resources = Vec::with_capacity(api.resources.len());
        let mut next_route = 0u32;
        for (key, resource) in &api.resources {
            let mut methods = [None; 8];
            for method in resource.methods.keys() {
                if let Some(slot) = methods.get_mut(method.index()) {
                    *slot = Some(next_route);
                    next_route += 1;
                }
            }
            let resource_id = u32::try_from(resources.len()).unwrap_or(u32::MAX);
            let mut node = 0usize;
            let mut greedy_leaf = false;
            for segment in resource.path.segments() {
                let fresh = u32::try_from(nodes.len()).unwrap_or(u32::MAX);
                let Some(current) = nodes.get_mut(node) else {
                    break;
                };
                let child = match segment {
                    Segment::Literal(lit) => {
                        *current.literals.entry(lit.as_str().into()).or_insert(fresh)
                    }
                    Segment::Param(name) => {
                        current
                            .param
                            .get_or_insert_with(|| (name.as_str().into(), fresh))
                            .1
                    }
                    Segment::Greedy(name) => {
                        greedy_leaf = true;
                        current
                            .greedy
                            .get_or_insert_with(|| (name.as_str().into(), resource_id))
                            .1 = resource_id;
                        break;
                    }
                };
                if child == fresh {
                    nodes.push(Node::default());
                }
                node = child as usize;
            }
            if !greedy_leaf && let Some(current) = nodes.get_mut(node) {
                current.resource = Some(resource_id);
            }
            resources.push(CompiledResource {
                path: key.clone(),
                methods,
                greedy_leaf,
            });
        }
        Self {
            api,
            nodes,
            resources,
            route_count: next_route as usize,
        }
    }

    pub fn api(&self) -> &Arc<Api> {
        &self.api
    }

    /// Number of `(resource, method)` routes; route ids are `0..route_count()`.
    pub fn route_count(&self) -> usize {
        self.route_count
    }

    /// Every route: id, resource and method.
    pub fn routes(&self) -> impl Iterator<Item = (RouteId, &Resource, HttpMethod)> {
        self.resources.iter().flat_map(move |compiled| {
            let resource = self.api.resources.get(&compiled.path);
            HttpMethod::ALL.iter().filter_map(move |method| {
                let id = (*compiled.methods.get(method.index())?)?;
                Some((RouteId(id), resource?, *method))
            })
        })
    }

    /// Finds the route for a request. `path` is the part after the base path and stage,
    /// starting with `/` (an empty path is the root), without the query string.
    pub fn lookup<'t>(&'t self, method: &str, path: &str) -> Lookup<'t> {
        let rest = path.strip_prefix('/').unwrap_or(path);
        // One trailing slash is ignored for matching (but kept in a greedy capture).
        let trimmed = rest.strip_suffix('/').unwrap_or(rest);
        // Segments are found lazily by offset into `trimmed` (no allocation); an empty
        // `trimmed` has no segments at all.
        let start = (!trimmed.is_empty()).then_some(0);
        let mut captures = Vec::new();
        let found = self.find(0, rest, trimmed, start, &mut captures);
        let Some(resource_id) = found else {
            return Lookup::NoResource;
        };
        let Some(compiled) = self.resources.get(resource_id as usize) else {
            return Lookup::NoResource;
        };
        let Some(resource) = self.api.resources.get(&compiled.path) else {
            return Lookup::NoResource;
        };
        let requested = HttpMethod::from_request(method).filter(|m| *m != HttpMethod::Any);
        let chosen = requested
            .and_then(|m| {
                compiled
                    .methods
                    .get(m.index())
                    .copied()
                    .flatten()
                    .map(|id| (m, id))
            })
            .or_else(|| {
                compiled
                    .methods
                    .get(HttpMethod::Any.index())
                    .copied()
                    .flatten()
                    .map(|id| (HttpMethod::Any, id))
            });
        let Some((method, id)) = chosen else {
            return Lookup::MethodNotDefined { resource };
        };
        let Some(definition) = resource.methods.get(&method) else {
            return Lookup::MethodNotDefined { resource };
        };
        Lookup::Matched(RouteMatch {
            route: RouteId(id),
            resource,
            method,
            definition,
            path_params: PathParams(captures),
        })
    }

    /// Depth-first search in priority order from `node` at segment `index`. `rest` is the
    /// untrimmed path (for greedy captures), `segments` its segments with their offsets.
    fn find<'t>(
        &'t self,
        node: u32,
        rest: &str,
        trimmed: &str,
        offset: Option<usize>,
        captures: &mut Vec<(&'t str, String)>,
    ) -> Option<u32> {
        let node_ref = self.nodes.get(node as usize)?;
        let Some(offset) = offset else {
            return node_ref.resource;
        };
        let tail = trimmed.get(offset..).unwrap_or_default();
        let (raw, next) = match tail.find('/') {
            Some(i) => (tail.get(..i).unwrap_or_default(), Some(offset + i + 1)),
            None => (tail, None),
        };
        // An empty segment (`//`) matches no literal and no `{param}`; only a greedy
        // parameter can absorb it.
        if !raw.is_empty() {
            let segment = percent_decode(raw);
            if let Some(&child) = node_ref.literals.get(segment.as_ref())
                && let Some(found) = self.find(child, rest, trimmed, next, captures)
            {
                return Some(found);
            }
            if let Some((name, child)) = &node_ref.param {
                captures.push((name, segment.into_owned()));
                if let Some(found) = self.find(*child, rest, trimmed, next, captures) {
                    return Some(found);
                }
                captures.pop();
            }
        }
        if let Some((name, resource)) = &node_ref.greedy {
            captures.push((
                name,
                percent_decode_greedy(rest.get(offset..).unwrap_or_default()),
            ));
            return Some(*resource);
        }
        None
    }

    /// Whether `resource_path` names a greedy resource (for diagnostics).
    pub fn is_greedy(&self, resource_path: &str) -> bool {
        self.resources
            .iter()
            .any(|r| r.path == resource_path && r.greedy_leaf)
    }
}

/// Decodes a greedy remainder segment by segment, so an encoded `%2F` and a real `/` both
/// end up as `/` but a malformed escape in one segment leaves only that segment raw.
fn percent_decode_greedy(rest: &str) -> String {
    let mut out = String::with_capacity(rest.len());
    for (i, segment) in rest.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(&percent_decode(segment));
    }
    out
}

// === impl PathParams ===

impl<'t> PathParams<'t> {
    /// The value of `name`, if captured.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'t str, &str)> {
        self.0.iter().map(|(n, v)| (*n, v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::model::{Integration, MethodSettings, MockIntegration};
    use crate::definition::path::ResourcePath;
    use std::collections::BTreeMap;

    pub(crate) fn api_with(routes: &[(&str, &[HttpMethod])]) -> Arc<Api> {
        let mut api = Api::new("t", "t");
        for (path, methods) in routes {
            let path = ResourcePath::parse(path, 32, 1024).unwrap();
            let methods = methods
                .iter()
                .map(|m| {
                    let mock = MockIntegration {
                        status_by_content_type: BTreeMap::new(),
                        responses: Vec::new(),
                    };
                    (
                        *m,
                        Method {
                            operation_name: None,
                            settings: MethodSettings::default(),
                            integration: Integration::Mock(mock),
                        },
                    )
                })
                .collect();
            api.resources
                .insert(path.as_str().to_owned(), Resource { path, methods });
        }
        Arc::new(api)
    }

    fn check(table: &RouteTable, method: &str, path: &str) -> String {
        match table.lookup(method, path) {
            Lookup::Matched(m) => {
                let params: Vec<String> = m
                    .path_params
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                format!("{} {} {}", m.method, m.resource.path, params.join(","))
            }
            Lookup::MethodNotDefined { resource } => format!("no-method {}", resource.path),
            Lookup::NoResource => "none".to_owned(),
        }
    }

    use HttpMethod::{Any, Get, Post};

    #[test]
    fn specificity_and_methods() {
        let table = RouteTable::new(api_with(&[
            ("/", &[Get]),
            ("/pets", &[Get, Post]),
            ("/pets/{petId}", &[Get]),
            ("/pets/mine", &[Get]),
            ("/pets/{petId}/toys/{proxy+}", &[Any]),
            ("/{proxy+}", &[Any]),
            ("/a/b/c", &[Get]),
            ("/{x}/b", &[Get]),
        ]));
        let cases = [
            // (method, path, expected) — each case names the rule it pins.
            ("GET", "/", "GET / "),                            // root resource
            ("GET", "", "GET / "),                             // empty path is the root
            ("GET", "/pets", "GET /pets "),                    // literal
            ("GET", "/pets/", "GET /pets "),                   // one trailing slash ignored
            ("GET", "/pets/mine", "GET /pets/mine "),          // literal beats {param}
            ("GET", "/pets/42", "GET /pets/{petId} petId=42"), // {param}
            ("GET", "/pets/a%20b", "GET /pets/{petId} petId=a b"), // decoded capture
            ("GET", "/pets/a%2Fb", "GET /pets/{petId} petId=a/b"), // %2F stays in its segment
            ("DELETE", "/pets/42", "no-method /pets/{petId}"), // method missing, no ANY
            (
                "POST",
                "/pets/42/toys/x/y",
                "ANY /pets/{petId}/toys/{proxy+} petId=42,proxy=x/y",
            ),
            ("PUT", "/Pets", "ANY /{proxy+} proxy=Pets"), // case-sensitive, greedy fallback
            ("GET", "/pets/42/other", "ANY /{proxy+} proxy=pets/42/other"), // backtrack to greedy
            ("GET", "/a/b", "GET /{x}/b x=a"),            // /a/b not defined: backtrack to {x}
            ("GET", "/a/b/c", "GET /a/b/c "),
            ("GET", "/x/y/", "ANY /{proxy+} proxy=x/y/"), // greedy keeps trailing slash
            (
                "PROPFIND",
                "/pets/1/toys/z",
                "ANY /pets/{petId}/toys/{proxy+} petId=1,proxy=z",
            ), // unknown method → ANY
            ("get", "/pets", "no-method /pets"), // methods are case-sensitive: `get` is not GET
            ("GET", "/pets//1", "ANY /{proxy+} proxy=pets//1"), // empty segment only greedy
        ];
        for (method, path, expected) in cases {
            assert_eq!(check(&table, method, path), expected, "{method} {path}");
        }
        assert_eq!(table.route_count(), 9);
    }

    #[test]
    fn greedy_needs_a_segment_and_misses_are_distinguished() {
        let table = RouteTable::new(api_with(&[("/files/{proxy+}", &[Get])]));
        assert_eq!(check(&table, "GET", "/files"), "none");
        assert_eq!(check(&table, "GET", "/files/"), "none");
        assert_eq!(
            check(&table, "GET", "/files/a"),
            "GET /files/{proxy+} proxy=a"
        );
        assert_eq!(check(&table, "GET", "/"), "none");
        assert_eq!(
            check(&table, "POST", "/files/a"),
            "no-method /files/{proxy+}"
        );
    }

    #[test]
    fn route_ids_are_dense() {
        let table = RouteTable::new(api_with(&[("/a", &[Get, Post]), ("/b", &[Any])]));
        let mut ids: Vec<u32> = table.routes().map(|(id, _, _)| id.0).collect();
        ids.sort_unstable();
        assert_eq!(ids, [0, 1, 2]);
    }
}
