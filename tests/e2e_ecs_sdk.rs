//! The announcement's scenario through the official Rust SDK (`aws-sdk-ecs`, `aws-sdk-kms`)
//! against the real server and host runtime: a cluster with a customer managed key, a task
//! with 50 GiB of ephemeral storage on it, the cluster moved to a second key while the task
//! keeps the first, a service redeployed onto the second key, and a disabled key refusing new
//! tasks. Root only (skipped with a message otherwise, failing when `CI=true`).

mod common;

use std::time::{Duration, Instant};

use aws_sdk_ecs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ecs::types::{
    AwsVpcConfiguration, ClusterConfiguration, ClusterField, Compatibility, ContainerDefinition,
    DeploymentConfiguration, EphemeralStorage, LaunchType, ManagedStorageConfiguration,
    NetworkConfiguration, NetworkMode, Task,
};
use common::{fargate_key, load_busybox, require_root, task_vpc, Server};

fn clients(s: &Server) -> (aws_sdk_ecs::Client, aws_sdk_kms::Client) {
    let creds = Credentials::new(
        &s.access_key_id,
        &s.secret_access_key,
        None,
        None,
        "ferrogate-test",
    );
    let ecs = aws_sdk_ecs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(creds.clone())
        .endpoint_url(&s.endpoint)
        .build();
    let kms = aws_sdk_kms::Config::builder()
        .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
        .region(aws_sdk_kms::config::Region::new("us-east-1"))
        .credentials_provider(creds)
        .endpoint_url(&s.endpoint)
        .build();
    (
        aws_sdk_ecs::Client::from_conf(ecs),
        aws_sdk_kms::Client::from_conf(kms),
    )
}

fn storage(key: &str) -> ClusterConfiguration {
    ClusterConfiguration::builder()
        .managed_storage_configuration(
            ManagedStorageConfiguration::builder()
                .fargate_ephemeral_storage_kms_key_id(key)
                .build(),
        )
        .build()
}

fn network(subnet: &str) -> NetworkConfiguration {
    NetworkConfiguration::builder()
        .awsvpc_configuration(
            AwsVpcConfiguration::builder()
                .subnets(subnet)
                .build()
                .unwrap(),
        )
        .build()
}

async fn task(ecs: &aws_sdk_ecs::Client, arn: &str) -> Task {
    let d = ecs
        .describe_tasks()
        .cluster("sdk")
        .tasks(arn)
        .send()
        .await
        .unwrap();
    d.tasks().first().cloned().expect("the task is described")
}

async fn wait_status(ecs: &aws_sdk_ecs::Client, arn: &str, status: &str) -> Task {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let t = task(ecs, arn).await;
        let last = t.last_status().unwrap_or_default().to_owned();
        if last == status || last == "STOPPED" || Instant::now() > deadline {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn key_of(t: &Task) -> Option<String> {
    t.fargate_ephemeral_storage()
        .and_then(|f| f.kms_key_id())
        .map(str::to_owned)
}

#[test]
fn the_announcement_scenario_with_the_rust_sdk() {
    if !require_root("the_announcement_scenario_with_the_rust_sdk") {
        return;
    }
    let mut s = Server::start();
    load_busybox(&s);
    let key1 = fargate_key(&s, "sdk");
    let key2 = fargate_key(&s, "sdk");
    let (_, subnet, _) = task_vpc(&s, 24);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (ecs, kms) = clients(&s);
        let meta = kms.describe_key().key_id(&key1).send().await.unwrap();
        let key1_id = meta.key_metadata().unwrap().key_id().to_owned();

        let c = ecs
            .create_cluster()
            .cluster_name("sdk")
            .configuration(storage(&key1_id))
            .send()
            .await
            .unwrap();
        let stored = c
            .cluster()
            .unwrap()
            .configuration()
            .unwrap()
            .managed_storage_configuration()
            .unwrap();
        assert_eq!(
            stored.fargate_ephemeral_storage_kms_key_id(),
            Some(key1.as_str())
        );
        let d = ecs
            .describe_clusters()
            .clusters("sdk")
            .include(ClusterField::Configurations)
            .send()
            .await
            .unwrap();
        assert_eq!(d.clusters().len(), 1);

        ecs.register_task_definition()
            .family("sdk-web")
            .requires_compatibilities(Compatibility::Fargate)
            .network_mode(NetworkMode::Awsvpc)
            .cpu("256")
            .memory("512")
            .ephemeral_storage(EphemeralStorage::builder().size_in_gib(50).build())
            .container_definitions(
                ContainerDefinition::builder()
                    .name("app")
                    .image("busybox")
                    .command("sleep")
                    .command("1000")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let run = ecs
            .run_task()
            .cluster("sdk")
            .task_definition("sdk-web")
            .launch_type(LaunchType::Fargate)
            .network_configuration(network(&subnet))
            .send()
            .await
            .unwrap();
        let arn = run.tasks()[0].task_arn().unwrap().to_owned();
        let t = wait_status(&ecs, &arn, "RUNNING").await;
        assert_eq!(t.last_status(), Some("RUNNING"), "{t:?}");
        assert_eq!(t.ephemeral_storage().map(|e| e.size_in_gib()), Some(50));
        assert_eq!(key_of(&t).as_deref(), Some(key1.as_str()));

        // A second key for the cluster: the running task keeps the first.
        ecs.update_cluster()
            .cluster("sdk")
            .configuration(storage(&key2))
            .send()
            .await
            .unwrap();
        assert_eq!(
            key_of(&task(&ecs, &arn).await).as_deref(),
            Some(key1.as_str())
        );

        // A service, redeployed onto the new key.
        ecs.create_service()
            .cluster("sdk")
            .service_name("sdk-svc")
            .task_definition("sdk-web")
            .desired_count(2)
            .launch_type(LaunchType::Fargate)
            .network_configuration(network(&subnet))
            .deployment_configuration(
                DeploymentConfiguration::builder()
                    .minimum_healthy_percent(50)
                    .maximum_percent(200)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let svc = ecs
                .describe_services()
                .cluster("sdk")
                .services("sdk-svc")
                .send()
                .await
                .unwrap();
            let svc = &svc.services()[0];
            let d = svc.deployments();
            if d.len() == 1 && svc.running_count() == 2 {
                let key = d[0]
                    .fargate_ephemeral_storage()
                    .and_then(|f| f.kms_key_id())
                    .map(str::to_owned);
                assert_eq!(key.as_deref(), Some(key2.as_str()));
                break;
            }
            assert!(Instant::now() < deadline, "{svc:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        // The key disabled: a new task fails to start; the running one goes on.
        kms.disable_key().key_id(&key2).send().await.unwrap();
        let run = ecs
            .run_task()
            .cluster("sdk")
            .task_definition("sdk-web")
            .launch_type(LaunchType::Fargate)
            .network_configuration(network(&subnet))
            .send()
            .await
            .unwrap();
        let failed = wait_status(&ecs, run.tasks()[0].task_arn().unwrap(), "STOPPED").await;
        assert_eq!(
            failed.stop_code().map(|c| c.as_str()),
            Some("TaskFailedToStart")
        );
        assert!(failed
            .stopped_reason()
            .unwrap_or_default()
            .contains("DisabledException"));
        assert_eq!(task(&ecs, &arn).await.last_status(), Some("RUNNING"));
    });
    s.stop();
}
