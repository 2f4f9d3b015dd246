//! Which service and protocol a request speaks, and which operation it calls.

/// The wire protocols Ferrogate speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// `POST /`, `Content-Type: application/x-amz-json-1.1`, `X-Amz-Target: <prefix>.<Op>`.
    Json11,
    /// `Action=<Op>&Version=<date>` form parameters, XML answers (IAM, STS).
    Query,
    /// EC2's own query dialect (botocore `protocol: ec2`): the same `Action`/`Version` form,
    /// lists as `Name.N` (no `.member.`), answers as `<OpResponse><requestId>` with
    /// camelCase members and `<item>` list entries, errors as
    /// `<Response><Errors><Error>` (see [`crate::ec2`]).
    Ec2,
}

impl Protocol {
    /// True for the protocols whose requests are `Action=…&Version=…` forms.
    pub fn is_form(self) -> bool {
        matches!(self, Protocol::Query | Protocol::Ec2)
    }
}

/// The services Ferrogate serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceId {
    /// AWS Identity and Access Management (awsQuery, `2010-05-08`).
    Iam,
    /// AWS Security Token Service (awsQuery, `2011-06-15`).
    Sts,
    /// AWS Key Management Service (awsJson1_1, `TrentService`).
    Kms,
    /// Amazon Elastic Container Service (awsJson1_1).
    Ecs,
    /// AWS CloudTrail (awsJson1_1).
    CloudTrail,
    /// AWS Organizations (awsJson1_1).
    Organizations,
    /// Amazon EC2: VPCs, subnets, security groups, network interfaces (ec2, `2016-11-15`).
    Ec2,
    /// Amazon CloudWatch Logs (awsJson1_1, `Logs_20140328`).
    Logs,
    /// AWS Secrets Manager (awsJson1_1, `secretsmanager`).
    SecretsManager,
    /// AWS Systems Manager Parameter Store (awsJson1_1, `AmazonSSM`).
    Ssm,
}

/// Every service, for tables and tests.
pub const ALL_SERVICES: [ServiceId; 10] = [
    ServiceId::Iam,
    ServiceId::Sts,
    ServiceId::Kms,
    ServiceId::Ecs,
    ServiceId::CloudTrail,
    ServiceId::Organizations,
    ServiceId::Ec2,
    ServiceId::Logs,
    ServiceId::SecretsManager,
    ServiceId::Ssm,
];

impl ServiceId {
    /// The SigV4 signing name (credential-scope service).
    pub fn signing_name(self) -> &'static str {
        match self {
            ServiceId::Iam => "iam",
            ServiceId::Sts => "sts",
            ServiceId::Kms => "kms",
            ServiceId::Ecs => "ecs",
            ServiceId::CloudTrail => "cloudtrail",
            ServiceId::Organizations => "organizations",
            ServiceId::Ec2 => "ec2",
            ServiceId::Logs => "logs",
            ServiceId::SecretsManager => "secretsmanager",
            ServiceId::Ssm => "ssm",
        }
    }

    /// The protocol the service speaks.
    pub fn protocol(self) -> Protocol {
        match self {
            ServiceId::Iam | ServiceId::Sts => Protocol::Query,
            ServiceId::Ec2 => Protocol::Ec2,
            ServiceId::Kms
            | ServiceId::Ecs
            | ServiceId::CloudTrail
            | ServiceId::Organizations
            | ServiceId::Logs
            | ServiceId::SecretsManager
            | ServiceId::Ssm => Protocol::Json11,
        }
    }

    /// The `X-Amz-Target` prefix of awsJson1_1 services (botocore `metadata.targetPrefix`).
    pub fn target_prefix(self) -> Option<&'static str> {
        match self {
            ServiceId::Kms => Some("TrentService"),
            ServiceId::Ecs => Some("AmazonEC2ContainerServiceV20141113"),
            ServiceId::CloudTrail => Some("com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101"),
            ServiceId::Organizations => Some("AWSOrganizationsV20161128"),
            ServiceId::Logs => Some("Logs_20140328"),
            ServiceId::SecretsManager => Some("secretsmanager"),
            ServiceId::Ssm => Some("AmazonSSM"),
            ServiceId::Iam | ServiceId::Sts | ServiceId::Ec2 => None,
        }
    }

    /// The API version (`Version=` for query services).
    pub fn api_version(self) -> &'static str {
        match self {
            ServiceId::Iam => "2010-05-08",
            ServiceId::Sts => "2011-06-15",
            ServiceId::Kms => "2014-11-01",
            ServiceId::Ecs => "2014-11-13",
            ServiceId::CloudTrail => "2013-11-01",
            ServiceId::Organizations => "2016-11-28",
            ServiceId::Ec2 => "2016-11-15",
            ServiceId::Logs => "2014-03-28",
            ServiceId::SecretsManager => "2017-10-17",
            ServiceId::Ssm => "2014-11-06",
        }
    }

    /// The XML namespace of query services' responses.
    pub fn xml_namespace(self) -> &'static str {
        match self {
            ServiceId::Iam => "https://iam.amazonaws.com/doc/2010-05-08/",
            ServiceId::Sts => "https://sts.amazonaws.com/doc/2011-06-15/",
            // botocore's `xmlNamespace` lacks the final slash; EC2's answers carry it.
            ServiceId::Ec2 => "http://ec2.amazonaws.com/doc/2016-11-15/",
            ServiceId::Kms
            | ServiceId::Ecs
            | ServiceId::CloudTrail
            | ServiceId::Organizations
            | ServiceId::Logs
            | ServiceId::SecretsManager
            | ServiceId::Ssm => "",
        }
    }

    /// CloudTrail's `eventSource`.
    pub fn event_source(self) -> &'static str {
        match self {
            ServiceId::Iam => "iam.amazonaws.com",
            ServiceId::Sts => "sts.amazonaws.com",
            ServiceId::Kms => "kms.amazonaws.com",
            ServiceId::Ecs => "ecs.amazonaws.com",
            ServiceId::CloudTrail => "cloudtrail.amazonaws.com",
            ServiceId::Organizations => "organizations.amazonaws.com",
            ServiceId::Ec2 => "ec2.amazonaws.com",
            ServiceId::Logs => "logs.amazonaws.com",
            ServiceId::SecretsManager => "secretsmanager.amazonaws.com",
            ServiceId::Ssm => "ssm.amazonaws.com",
        }
    }

    /// True for services whose resources and events are global (recorded in `us-east-1`).
    pub fn is_global(self) -> bool {
        matches!(self, ServiceId::Iam | ServiceId::Organizations)
    }

    /// The service of a credential scope.
    pub fn from_signing_name(name: &str) -> Option<Self> {
        ALL_SERVICES.into_iter().find(|s| s.signing_name() == name)
    }

    /// The service of an `X-Amz-Target` prefix.
    pub fn from_target_prefix(prefix: &str) -> Option<Self> {
        ALL_SERVICES
            .into_iter()
            .find(|s| s.target_prefix() == Some(prefix))
    }
}

/// Splits `X-Amz-Target: <prefix>.<Operation>` at the last dot.
pub fn split_target(target: &str) -> Option<(&str, &str)> {
    let (prefix, op) = target.rsplit_once('.')?;
    (!prefix.is_empty() && !op.is_empty()).then_some((prefix, op))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_table() {
        let cases = [
            ("TrentService.Encrypt", ServiceId::Kms, "Encrypt"),
            (
                "AmazonEC2ContainerServiceV20141113.CreateCluster",
                ServiceId::Ecs,
                "CreateCluster",
            ),
            (
                "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents",
                ServiceId::CloudTrail,
                "LookupEvents",
            ),
            (
                "AWSOrganizationsV20161128.CreateOrganization",
                ServiceId::Organizations,
                "CreateOrganization",
            ),
            (
                "Logs_20140328.PutLogEvents",
                ServiceId::Logs,
                "PutLogEvents",
            ),
            (
                "secretsmanager.GetSecretValue",
                ServiceId::SecretsManager,
                "GetSecretValue",
            ),
            ("AmazonSSM.GetParameter", ServiceId::Ssm, "GetParameter"),
        ];
        for (target, svc, op) in cases {
            let (prefix, got_op) = split_target(target).unwrap();
            assert_eq!(ServiceId::from_target_prefix(prefix), Some(svc), "{target}");
            assert_eq!(got_op, op);
            assert_eq!(svc.protocol(), Protocol::Json11);
        }
        assert_eq!(split_target("NoDot"), None);
        assert_eq!(split_target("TrentService."), None);
        assert_eq!(ServiceId::from_target_prefix("Nope"), None);
    }

    #[test]
    fn signing_names_round_trip() {
        for s in ALL_SERVICES {
            assert_eq!(ServiceId::from_signing_name(s.signing_name()), Some(s));
        }
        assert_eq!(ServiceId::Iam.protocol(), Protocol::Query);
        assert_eq!(ServiceId::Sts.protocol(), Protocol::Query);
        assert_eq!(ServiceId::Ec2.protocol(), Protocol::Ec2);
        assert_eq!(ServiceId::Ec2.api_version(), "2016-11-15");
        assert!(
            Protocol::Ec2.is_form() && Protocol::Query.is_form() && !Protocol::Json11.is_form()
        );
    }
}
