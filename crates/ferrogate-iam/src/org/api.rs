//! The Organizations operations (awsJson1_1, `AWSOrganizationsV20161128`): the table.

use super::accounts::{
    AccountIdInput, CreateAccountInput, CreateOrganizationInput, DescribeCreateAccountStatusInput,
    Empty, ListInput,
};
pub use super::common::Organizations;
use super::policies::{
    AttachPolicyInput, CreatePolicyInput, EnablePolicyTypeInput, ListPoliciesForTargetInput,
    ListPoliciesInput, PolicyIdInput,
};

ferrogate_api::operations! {
    service: Organizations,
    protocol: json,
    parameters: serialized,
    ops: {
        CreateOrganization(CreateOrganizationInput) write,
        DescribeOrganization(Empty) read,
        ListRoots(ListInput<false>) read,
        CreateAccount(CreateAccountInput) write,
        DescribeCreateAccountStatus(DescribeCreateAccountStatusInput) read,
        DescribeAccount(AccountIdInput) read,
        ListAccounts(ListInput<true>) read,
        CreatePolicy(CreatePolicyInput) write,
        DescribePolicy(PolicyIdInput<false>) read,
        DeletePolicy(PolicyIdInput<true>) write,
        ListPolicies(ListPoliciesInput) read,
        ListPoliciesForTarget(ListPoliciesForTargetInput) read,
        AttachPolicy(AttachPolicyInput<true>) write,
        DetachPolicy(AttachPolicyInput<false>) write,
        EnablePolicyType(EnablePolicyTypeInput) write,
    }
}
