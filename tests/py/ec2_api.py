"""EC2 networking through boto3: the default VPC, VPCs, subnets, security groups and their
rules, tags, pagination and AWS's error codes for bad input (which changes nothing)."""
import boto3
from botocore.exceptions import ClientError

ec2 = boto3.client("ec2")


def code(fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"]["Message"]
    raise SystemExit(f"{fn.__name__} {kw} succeeded")


# The default VPC, its subnets (one per zone, /20 each) and its default group.
default = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
assert len(default) == 1 and default[0]["CidrBlock"] == "172.31.0.0/16", default
dvpc = default[0]["VpcId"]
assert dvpc.startswith("vpc-") and len(dvpc) == 21, dvpc
zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]]
subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [dvpc]}])["Subnets"]
assert sorted(s["CidrBlock"] for s in subnets) == ["172.31.0.0/20", "172.31.16.0/20", "172.31.32.0/20"], subnets
assert sorted(s["AvailabilityZone"] for s in subnets) == sorted(zones), (subnets, zones)
assert all(s["DefaultForAz"] and s["MapPublicIpOnLaunch"] and s["AvailableIpAddressCount"] == 4091 for s in subnets)
dsg = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [dvpc]}, {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"]
assert len(dsg) == 1, dsg
assert dsg[0]["IpPermissions"][0]["UserIdGroupPairs"][0]["GroupId"] == dsg[0]["GroupId"], dsg
assert dsg[0]["IpPermissionsEgress"][0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}], dsg
attrs = ec2.describe_account_attributes(AttributeNames=["default-vpc"])["AccountAttributes"]
assert attrs[0]["AttributeValues"][0]["AttributeValue"] == dvpc, attrs

# A VPC with tags; bad blocks refused.
assert code(ec2.create_vpc, CidrBlock="10.0.0.0/8")[0] == "InvalidVpc.Range"
assert code(ec2.create_vpc, CidrBlock="10.0.0.1/16")[0] == "InvalidParameterValue"
vpc = ec2.create_vpc(
    CidrBlock="10.0.0.0/16",
    TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "main"}]}],
)["Vpc"]
vid = vpc["VpcId"]
assert vpc["Tags"] == [{"Key": "Name", "Value": "main"}] and not vpc["IsDefault"], vpc
assert ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["ma*"]}])["Vpcs"][0]["VpcId"] == vid
assert code(ec2.describe_vpcs, VpcIds=["vpc-00000000000000000"]) == ("InvalidVpcID.NotFound", "The vpc ID 'vpc-00000000000000000' does not exist")
assert code(ec2.describe_vpcs, Filters=[{"Name": "nonsense", "Values": ["x"]}])[0] == "InvalidParameterValue"

# Attributes, the main route table and the default network ACL made with the VPC.
assert ec2.describe_vpc_attribute(VpcId=vid, Attribute="enableDnsSupport")["EnableDnsSupport"]["Value"] is True
assert ec2.describe_vpc_attribute(VpcId=vid, Attribute="enableDnsHostnames")["EnableDnsHostnames"]["Value"] is False
ec2.modify_vpc_attribute(VpcId=vid, EnableDnsHostnames={"Value": True})
assert ec2.describe_vpc_attribute(VpcId=vid, Attribute="enableDnsHostnames")["EnableDnsHostnames"]["Value"] is True
assert code(ec2.modify_vpc_attribute, VpcId=vid, EnableDnsSupport={"Value": False})[0] == "InvalidParameterValue"
assert ec2.describe_vpc_attribute(VpcId=vid, Attribute="enableDnsSupport")["EnableDnsSupport"]["Value"] is True
rt = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vid]}, {"Name": "association.main", "Values": ["true"]}])["RouteTables"]
assert len(rt) == 1 and rt[0]["Routes"][0] == {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active", "Origin": "CreateRouteTable"}, rt
acl = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vid]}, {"Name": "default", "Values": ["true"]}])["NetworkAcls"]
assert len(acl) == 1 and len(acl[0]["Entries"]) == 4, acl
# No task runs: no network interfaces.
assert ec2.describe_network_interfaces(Filters=[{"Name": "vpc-id", "Values": [vid]}])["NetworkInterfaces"] == []
assert code(ec2.describe_network_interfaces, NetworkInterfaceIds=["eni-00000000000000000"])[0] == "InvalidNetworkInterfaceID.NotFound"

# Subnets: inside the VPC, /16 to /28, no overlap, a zone of the region.
sub = ec2.create_subnet(VpcId=vid, CidrBlock="10.0.1.0/24", AvailabilityZone=zones[1])["Subnet"]
assert sub["AvailableIpAddressCount"] == 251 and sub["AvailabilityZone"] == zones[1], sub
assert code(ec2.create_subnet, VpcId=vid, CidrBlock="10.0.1.128/25") == ("InvalidSubnet.Conflict", "The CIDR '10.0.1.128/25' conflicts with another subnet")
assert code(ec2.create_subnet, VpcId=vid, CidrBlock="10.1.0.0/24")[0] == "InvalidSubnet.Range"
assert code(ec2.create_subnet, VpcId=vid, CidrBlock="10.0.2.0/29")[0] == "InvalidSubnet.Range"
assert code(ec2.create_subnet, VpcId=vid, CidrBlock="10.0.2.0/24", AvailabilityZone="nowhere-1a")[0] == "InvalidParameterValue"
assert code(ec2.create_subnet, VpcId="vpc-00000000000000000", CidrBlock="10.0.2.0/24")[0] == "InvalidVpcID.NotFound"
assert len(ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vid]}])["Subnets"]) == 1

# Security groups: AWS's default egress rule, duplicates refused.
sg = ec2.create_security_group(GroupName="web", Description="web tier", VpcId=vid)["GroupId"]
assert code(ec2.create_security_group, GroupName="web", Description="again", VpcId=vid) == ("InvalidGroup.Duplicate", f"The security group 'web' already exists for VPC '{vid}'")
g = ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]
assert g["IpPermissions"] == [] and g["IpPermissionsEgress"][0]["IpProtocol"] == "-1", g
added = ec2.authorize_security_group_ingress(
    GroupId=sg,
    IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "10.0.0.0/16", "Description": "vpc"}]},
        {"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8080, "UserIdGroupPairs": [{"GroupId": sg}]},
    ],
)["SecurityGroupRules"]
assert len(added) == 2 and all(r["SecurityGroupRuleId"].startswith("sgr-") for r in added), added
assert code(ec2.authorize_security_group_ingress, GroupId=sg, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}]) == (
    "InvalidPermission.Duplicate",
    'the specified rule "peer: 10.0.0.0/16, TCP, from port: 80, to port: 80, ALLOW" already exists',
)
assert code(ec2.authorize_security_group_ingress, GroupId=sg, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 90, "ToPort": 70, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])[0] == "InvalidParameterValue"
assert code(ec2.authorize_security_group_ingress, GroupId=sg, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 70000, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])[0] == "InvalidPermission.Malformed"
assert code(ec2.authorize_security_group_ingress, GroupId=sg, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2, "UserIdGroupPairs": [{"GroupId": dsg[0]["GroupId"]}]}])[0] == "InvalidGroup.NotFound"
assert code(ec2.authorize_security_group_ingress, GroupId="sg-00000000000000000", IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])[0] == "InvalidGroup.NotFound"
# One failing permission leaves the others of its request out too.
assert code(ec2.authorize_security_group_ingress, GroupId=sg, IpPermissions=[
    {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
    {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]},
])[0] == "InvalidPermission.Duplicate"
rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [sg]}])["SecurityGroupRules"]
assert sorted((r["IsEgress"], r["IpProtocol"], r["FromPort"]) for r in rules) == [(False, "tcp", 80), (False, "tcp", 8000), (True, "-1", -1)], rules
pairs = [r for r in rules if "ReferencedGroupInfo" in r]
assert pairs[0]["ReferencedGroupInfo"]["GroupId"] == sg, pairs
# Revoke by rule id and by permission; a rule that is not there is not found.
ec2.revoke_security_group_ingress(GroupId=sg, SecurityGroupRuleIds=[pairs[0]["SecurityGroupRuleId"]])
ec2.revoke_security_group_egress(GroupId=sg, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
assert code(ec2.revoke_security_group_egress, GroupId=sg, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])[0] == "InvalidPermission.NotFound"
g = ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]
assert g["IpPermissionsEgress"] == [] and len(g["IpPermissions"]) == 1, g
assert g["IpPermissions"][0]["IpRanges"] == [{"CidrIp": "10.0.0.0/16", "Description": "vpc"}], g

# DryRun: authorized, not run.
assert code(ec2.create_security_group, GroupName="dry", Description="d", VpcId=vid, DryRun=True)[0] == "DryRunOperation"
assert not ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["dry"]}])["SecurityGroups"]

# Tags on any resource, by id.
ec2.create_tags(Resources=[sub["SubnetId"], sg], Tags=[{"Key": "tier", "Value": "web"}])
tagged = ec2.describe_tags(Filters=[{"Name": "key", "Values": ["tier"]}])["Tags"]
assert sorted(t["ResourceType"] for t in tagged) == ["security-group", "subnet"], tagged
ec2.delete_tags(Resources=[sg], Tags=[{"Key": "tier", "Value": "other"}])
assert len(ec2.describe_tags(Filters=[{"Name": "key", "Values": ["tier"]}])["Tags"]) == 2
ec2.delete_tags(Resources=[sg], Tags=[{"Key": "tier"}])
assert len(ec2.describe_tags(Filters=[{"Name": "key", "Values": ["tier"]}])["Tags"]) == 1
assert code(ec2.create_tags, Resources=["vpc-00000000000000000"], Tags=[{"Key": "a", "Value": "b"}])[0] == "InvalidVpcID.NotFound"
assert code(ec2.create_tags, Resources=["i-00000000000000000"], Tags=[{"Key": "a", "Value": "b"}])[0] == "InvalidID"

# Pagination.
for i in range(6):
    ec2.create_security_group(GroupName=f"g{i}", Description="page", VpcId=vid)
pages = list(ec2.get_paginator("describe_security_groups").paginate(Filters=[{"Name": "vpc-id", "Values": [vid]}], PaginationConfig={"PageSize": 5}))
names = sorted(g["GroupName"] for p in pages for g in p["SecurityGroups"])
assert names == ["default", "g0", "g1", "g2", "g3", "g4", "g5", "web"] and len(pages) == 2, (names, len(pages))

# Deleting what others depend on is refused; in order, everything goes.
assert code(ec2.delete_vpc, VpcId=vid) == ("DependencyViolation", f"The vpc '{vid}' has dependencies and cannot be deleted.")
default_sg = [g for p in pages for g in p["SecurityGroups"] if g["GroupName"] == "default"][0]["GroupId"]
assert code(ec2.delete_security_group, GroupId=default_sg)[0] == "CannotDelete"
for p in pages:
    for g in p["SecurityGroups"]:
        if g["GroupName"] != "default":
            ec2.delete_security_group(GroupId=g["GroupId"])
assert code(ec2.delete_vpc, VpcId=vid)[0] == "DependencyViolation"
ec2.delete_subnet(SubnetId=sub["SubnetId"])
assert code(ec2.delete_subnet, SubnetId=sub["SubnetId"])[0] == "InvalidSubnetID.NotFound"
ec2.delete_vpc(VpcId=vid)
assert code(ec2.describe_vpcs, VpcIds=[vid])[0] == "InvalidVpcID.NotFound"
assert code(ec2.describe_security_groups, GroupIds=[default_sg])[0] == "InvalidGroup.NotFound"
assert vid not in [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]]
print("ok")
