//! The ECS operations (awsJson1_1, `AmazonEC2ContainerServiceV20141113`).
//!
//! Every operation is authorized on what it touches (`ecs:<Operation>` on the resource's
//! stored ARN, with its tags as `aws:ResourceTag/*` and `ecs:ResourceTag/*`), with the
//! condition keys it supplies: `aws:RequestTag/*` and `aws:TagKeys` where tags are set (and
//! then `ecs:TagResource` with `ecs:CreateAction` too, as ECS authorizes tagging on
//! creation), `ecs:cluster`, `ecs:task-definition`, and `ecs:fargate-ephemeral-storage-kms-key`
//! on CreateCluster and UpdateCluster. A cluster's key is then checked with `kms:DescribeKey`
//! as the caller, a call ECS makes to KMS on the caller's behalf (see `clusters`).

mod clusters;
mod common;
mod services;
mod tags;
pub(crate) mod taskdefs;
pub(crate) mod tasks;

pub use common::Ecs;

ferrogate_api::operations! {
    service: Ecs,
    protocol: json,
    parameters: sent,
    ops: {
        CreateCluster(clusters::CreateClusterInput) write,
        UpdateCluster(clusters::UpdateClusterInput) write,
        UpdateClusterSettings(clusters::UpdateClusterSettingsInput) write,
        DescribeClusters(clusters::DescribeClustersInput) read,
        ListClusters(clusters::ListClustersInput) read,
        DeleteCluster(clusters::DeleteClusterInput) write,
        RegisterTaskDefinition(taskdefs::RegisterInput) write,
        DescribeTaskDefinition(taskdefs::DescribeInput) read,
        ListTaskDefinitions(taskdefs::ListInput) read,
        ListTaskDefinitionFamilies(taskdefs::ListFamiliesInput) read,
        DeregisterTaskDefinition(taskdefs::DeregisterInput) write,
        RunTask(tasks::RunTaskInput) write,
        StopTask(tasks::StopTaskInput) write,
        DescribeTasks(tasks::DescribeTasksInput) read,
        ListTasks(tasks::ListTasksInput) read,
        CreateService(services::CreateServiceInput) write,
        UpdateService(services::UpdateServiceInput) write,
        DescribeServices(services::DescribeServicesInput) read,
        ListServices(services::ListServicesInput) read,
        DeleteService(services::DeleteServiceInput) write,
        TagResource(tags::TagResourceInput) write,
        UntagResource(tags::UntagResourceInput) write,
        ListTagsForResource(tags::ListTagsInput) read,
    }
}
