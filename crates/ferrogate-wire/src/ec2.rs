//! EC2's query dialect (botocore `protocol: ec2`, API version `2016-11-15`).
//!
//! Requests are the same `Action=…&Version=…` forms as awsQuery, but a list is flattened
//! as `Name.N` (botocore `EC2Serializer._serialize_type_list`: no `.member.`), under the
//! member's `queryName` or its capitalized `locationName`: `Filter.1.Name`,
//! `Filter.1.Value.1`, `SecurityGroupId.1`, `IpPermissions.1.IpRanges.1.CidrIp`.
//!
//! Answers are `<OperationResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">` with
//! `<requestId>` first and the members under their camelCase `locationName`, lists as
//! `<item>` entries; errors are `<Response><Errors><Error><Code>…</Code><Message>…</Message>
//! </Error></Errors><RequestID>…</RequestID></Response>` ("Error responses", EC2 API
//! reference).
//!
//! [`Ec2Params`] remembers which parameters an operation read: what is left at the end is
//! refused as `UnknownParameter` (fail closed: a parameter Ferrogate does not implement
//! could change what the request means, so it is never silently dropped).

use std::cell::RefCell;
use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;

use crate::error::{ApiError, WireError};
use crate::query::{escape, QueryParams};

/// Parameters every request carries besides the operation's own: the action and version,
/// and SigV4's own when the request is presigned.
const ENVELOPE: [&str; 2] = ["Action", "Version"];

/// An EC2 request's parameters, with a record of which ones the operation read.
#[derive(Debug)]
pub struct Ec2Params<'a> {
    params: &'a QueryParams,
    read: RefCell<HashSet<String>>,
}

impl<'a> Ec2Params<'a> {
    /// Wraps decoded form parameters.
    pub fn new(params: &'a QueryParams) -> Self {
        Self {
            params,
            read: RefCell::new(HashSet::new()),
        }
    }

    /// A scalar parameter.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        let v = self.params.get(name);
        if v.is_some() {
            self.read.borrow_mut().insert(name.to_owned());
        }
        v
    }

    /// The indexes `N` present under `prefix.N` (or `prefix.N.…`), in numeric order. Gaps
    /// are allowed (`Filter.1`, `Filter.3`); an index that is not a positive number is
    /// left unread, and so refused at the end.
    pub fn indexes(&self, prefix: &str) -> Vec<u32> {
        let lead = format!("{prefix}.");
        let mut found = BTreeSet::new();
        for k in self.params.keys() {
            if let Some(rest) = k.strip_prefix(&lead) {
                let n = rest.split('.').next().unwrap_or_default();
                if let Ok(i) = n.parse::<u32>() {
                    if i > 0 && !n.starts_with('0') {
                        found.insert(i);
                    }
                }
            }
        }
        found.into_iter().collect()
    }

    /// The values of a list of scalars `prefix.N`, in index order.
    pub fn list(&self, prefix: &str) -> Vec<&'a str> {
        self.indexes(prefix)
            .into_iter()
            .filter_map(|i| self.get(&format!("{prefix}.{i}")))
            .collect()
    }

    /// The prefixes `prefix.N` of a list of structures, in index order: read each
    /// structure's members as `format!("{p}.Member")`.
    pub fn structs(&self, prefix: &str) -> Vec<String> {
        self.indexes(prefix)
            .into_iter()
            .map(|i| format!("{prefix}.{i}"))
            .collect()
    }

    /// Refuses the request if it carries a parameter the operation did not read.
    pub fn finish(&self) -> Result<(), WireError> {
        let read = self.read.borrow();
        let mut unread: Vec<&String> = self
            .params
            .keys()
            .filter(|k| !read.contains(*k) && !ENVELOPE.contains(&k.as_str()))
            .filter(|k| !k.starts_with("X-Amz-"))
            .collect();
        unread.sort();
        match unread.first() {
            Some(k) => Err(WireError::UnknownParameter((*k).clone())),
            None => Ok(()),
        }
    }
}

/// The content type of EC2's answers.
pub const XML_CONTENT_TYPE: &str = "text/xml;charset=UTF-8";

/// Builds `<OperationResponse><requestId>…</requestId>…</OperationResponse>` documents.
#[derive(Debug)]
pub struct Ec2Writer {
    buf: String,
    action: String,
}

impl Ec2Writer {
    /// Starts the answer to `action` in namespace `xmlns`.
    pub fn response(action: &str, xmlns: &str, request_id: &str) -> Self {
        let mut buf = String::with_capacity(1024);
        let _ = write!(
            buf,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{action}Response xmlns=\"{xmlns}\">\n    <requestId>{}</requestId>\n",
            escape(request_id)
        );
        Self {
            buf,
            action: action.to_owned(),
        }
    }

    /// Opens an element.
    pub fn open(&mut self, tag: &str) -> &mut Self {
        let _ = writeln!(self.buf, "<{tag}>");
        self
    }

    /// Closes an element.
    pub fn close(&mut self, tag: &str) -> &mut Self {
        let _ = writeln!(self.buf, "</{tag}>");
        self
    }

    /// A text element.
    pub fn leaf(&mut self, tag: &str, text: &str) -> &mut Self {
        let _ = writeln!(self.buf, "<{tag}>{}</{tag}>", escape(text));
        self
    }

    /// A text element, only when there is a value.
    pub fn leaf_opt(&mut self, tag: &str, text: Option<&str>) -> &mut Self {
        if let Some(t) = text {
            self.leaf(tag, t);
        }
        self
    }

    /// A boolean element (`true`/`false`).
    pub fn flag(&mut self, tag: &str, v: bool) -> &mut Self {
        self.leaf(tag, if v { "true" } else { "false" })
    }

    /// An integer element.
    pub fn int(&mut self, tag: &str, v: i64) -> &mut Self {
        let _ = writeln!(self.buf, "<{tag}>{v}</{tag}>");
        self
    }

    /// A list: `<tag>` with one `<item>` per entry, each written by `f` (an empty list is
    /// an empty element, as EC2 writes it).
    pub fn items<T>(
        &mut self,
        tag: &str,
        entries: impl IntoIterator<Item = T>,
        mut f: impl FnMut(&mut Self, T),
    ) -> &mut Self {
        self.open(tag);
        for e in entries {
            self.open("item");
            f(self, e);
            self.close("item");
        }
        self.close(tag)
    }

    /// Finishes the document.
    pub fn finish(mut self) -> String {
        let _ = writeln!(self.buf, "</{}Response>", self.action);
        self.buf
    }
}

/// EC2's error document.
pub fn error_body(e: &ApiError, request_id: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{}</Code><Message>{}</Message></Error></Errors><RequestID>{}</RequestID></Response>\n",
        escape(e.code),
        escape(&e.message),
        escape(request_id)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(s: &str) -> QueryParams {
        QueryParams::parse(&[s.as_bytes()])
    }

    #[test]
    fn lists_are_flattened_by_index() {
        let q = params(
            "Action=DescribeVpcs&Version=2016-11-15&VpcId.2=vpc-b&VpcId.1=vpc-a&VpcId.10=vpc-c",
        );
        let p = Ec2Params::new(&q);
        assert_eq!(p.list("VpcId"), vec!["vpc-a", "vpc-b", "vpc-c"]);
        assert!(p.finish().is_ok());
    }

    #[test]
    fn nested_structures() {
        let q = params(
            "Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-1&Filter.1.Value.2=vpc-2&Filter.2.Name=state&Filter.2.Value.1=available\
             &IpPermissions.1.IpProtocol=tcp&IpPermissions.1.IpRanges.1.CidrIp=10.0.0.0/8&IpPermissions.1.Groups.1.GroupId=sg-1",
        );
        let p = Ec2Params::new(&q);
        let filters: Vec<(String, Vec<&str>)> = p
            .structs("Filter")
            .into_iter()
            .map(|f| {
                (
                    p.get(&format!("{f}.Name")).unwrap_or_default().to_owned(),
                    p.list(&format!("{f}.Value")),
                )
            })
            .collect();
        assert_eq!(filters[0], ("vpc-id".to_owned(), vec!["vpc-1", "vpc-2"]));
        assert_eq!(filters[1], ("state".to_owned(), vec!["available"]));
        let perm = &p.structs("IpPermissions")[0];
        assert_eq!(p.get(&format!("{perm}.IpProtocol")), Some("tcp"));
        let ranges = p.structs(&format!("{perm}.IpRanges"));
        assert_eq!(p.get(&format!("{}.CidrIp", ranges[0])), Some("10.0.0.0/8"));
        // The group pair was not read: refused by name.
        assert_eq!(
            p.finish(),
            Err(WireError::UnknownParameter(
                "IpPermissions.1.Groups.1.GroupId".into()
            ))
        );
    }

    #[test]
    fn unread_and_malformed_indexes_are_refused() {
        let q = params("Action=X&Version=2016-11-15&CidrBlock=10.0.0.0/16&Bogus=1");
        let p = Ec2Params::new(&q);
        assert_eq!(p.get("CidrBlock"), Some("10.0.0.0/16"));
        assert_eq!(p.finish(), Err(WireError::UnknownParameter("Bogus".into())));
        let q = params("VpcId.0=a&VpcId.01=b&VpcId.x=c");
        let p = Ec2Params::new(&q);
        assert!(p.list("VpcId").is_empty());
        assert!(p.finish().is_err());
    }

    #[test]
    fn answer_and_error_documents() {
        let mut w = Ec2Writer::response(
            "DescribeVpcs",
            "http://ec2.amazonaws.com/doc/2016-11-15/",
            "rid",
        );
        w.items("vpcSet", ["vpc-<1>"], |w, id| {
            w.leaf("vpcId", id).flag("isDefault", true);
        });
        let doc = w.finish();
        assert!(doc
            .contains("<DescribeVpcsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"));
        assert!(doc.contains("<requestId>rid</requestId>"));
        assert!(doc.contains(
            "<item>\n<vpcId>vpc-&lt;1&gt;</vpcId>\n<isDefault>true</isDefault>\n</item>"
        ));
        assert!(doc.trim_end().ends_with("</DescribeVpcsResponse>"));
        let e = ApiError {
            code: "InvalidVpcID.NotFound",
            status: 400,
            message: "The vpc ID 'vpc-1' does not exist".into(),
            internal: false,
        };
        let body = error_body(&e, "rid");
        assert!(body.contains("<Response><Errors><Error><Code>InvalidVpcID.NotFound</Code><Message>The vpc ID 'vpc-1' does not exist</Message></Error></Errors><RequestID>rid</RequestID></Response>"));
    }
}
