//! One registered instance: its id, address and metadata, and their JSON in etcd.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// One running instance of a service, as registered in etcd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    id: String,
    address: String,
    metadata: BTreeMap<String, String>,
}

impl Instance {
    /// An instance named `id` (unique among the service's instances; no `/`) serving at
    /// `address`: `host:port` as grpc-go's resolver expects (the discovering side picks
    /// `http://` or TLS), or a full `http://` / `https://` URL.
    pub fn new(id: impl Into<String>, address: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            address: address.into(),
            metadata: BTreeMap::new(),
        }
    }

    /// Adds a metadata entry (version, zone …) that discovering clients can read.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// The instance's id, the last segment of its key.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where it serves.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Its metadata.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// The URL a channel connects to: the address itself when it has a scheme, else
    /// `http://<address>`.
    pub fn url(&self) -> String {
        if self.address.contains("://") {
            self.address.clone()
        } else {
            format!("http://{}", self.address)
        }
    }

    /// The key's value: `{"Addr":"…","Metadata":{…}}` (etcd's endpoints manager's format;
    /// `Metadata` is left out when empty, as Go leaves a nil one `null`).
    pub(crate) fn to_value(&self) -> Vec<u8> {
        let mut object = Map::new();
        object.insert("Addr".to_owned(), Value::String(self.address.clone()));
        if !self.metadata.is_empty() {
            let metadata = self
                .metadata
                .iter()
                .map(|(key, value)| (key.clone(), Value::String(value.clone())))
                .collect();
            object.insert("Metadata".to_owned(), Value::Object(metadata));
        }
        Value::Object(object).to_string().into_bytes()
    }

    /// Reads a key's value. Metadata values that are not strings (Go's is any JSON) are kept as
    /// their JSON text; a value without an `Addr` string is refused.
    pub(crate) fn from_value(id: &str, value: &[u8]) -> Result<Self, String> {
        let json: Value =
            serde_json::from_slice(value).map_err(|error| format!("not JSON: {error}"))?;
        let address = match json.get("Addr") {
            Some(Value::String(address)) if !address.is_empty() => address.clone(),
            Some(Value::String(_)) => return Err("empty \"Addr\"".to_owned()),
            _ => return Err("no \"Addr\" string".to_owned()),
        };
        let metadata = match json.get("Metadata") {
            Some(Value::Object(entries)) => entries
                .iter()
                .map(|(key, value)| {
                    let value = match value {
                        Value::String(text) => text.clone(),
                        other => other.to_string(),
                    };
                    (key.clone(), value)
                })
                .collect(),
            _ => BTreeMap::new(),
        };
        Ok(Self {
            id: id.to_owned(),
            address,
            metadata,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_is_the_endpoints_managers_json() {
        let plain = Instance::new("a", "127.0.0.1:50051");
        assert_eq!(plain.to_value(), br#"{"Addr":"127.0.0.1:50051"}"#);
        let tagged = plain
            .clone()
            .with_metadata("zone", "b")
            .with_metadata("v", "2");
        assert_eq!(
            tagged.to_value(),
            br#"{"Addr":"127.0.0.1:50051","Metadata":{"v":"2","zone":"b"}}"#
        );
        assert_eq!(Instance::from_value("a", &tagged.to_value()), Ok(tagged));
        assert_eq!(Instance::from_value("a", &plain.to_value()), Ok(plain));
    }

    #[test]
    fn values_grpc_go_writes_are_read() {
        // Go's endpoints manager writes a nil Metadata as null, and any JSON as metadata.
        let go = br#"{"Op":0,"Addr":"10.0.0.7:8080","Metadata":{"weight":3,"zone":"x"}}"#;
        let instance = Instance::from_value("k", go).unwrap();
        assert_eq!(instance.address(), "10.0.0.7:8080");
        assert_eq!(instance.metadata()["weight"], "3");
        assert_eq!(instance.metadata()["zone"], "x");
        let null = Instance::from_value("k", br#"{"Addr":"h:1","Metadata":null}"#).unwrap();
        assert!(null.metadata().is_empty());
    }

    #[test]
    fn bad_values_are_refused_with_a_reason() {
        assert!(
            Instance::from_value("k", b"127.0.0.1:1")
                .unwrap_err()
                .starts_with("not JSON")
        );
        assert_eq!(
            Instance::from_value("k", br#"{"addr":"h:1"}"#),
            Err("no \"Addr\" string".to_owned())
        );
        assert_eq!(
            Instance::from_value("k", br#"{"Addr":""}"#),
            Err("empty \"Addr\"".to_owned())
        );
        assert_eq!(
            Instance::from_value("k", br#"{"Addr":7}"#),
            Err("no \"Addr\" string".to_owned())
        );
    }

    #[test]
    fn urls() {
        assert_eq!(Instance::new("a", "h:1").url(), "http://h:1");
        assert_eq!(Instance::new("a", "https://h:1").url(), "https://h:1");
    }
}
