//! Gateway records on both backends: API keys, usage plans, plan–key bindings, the
//! generation counter, batched quota counters (also from two stores on one database), and
//! run-time deployments with their stage pointers and run-time stages.

use gatehouse_storage::testkit::{TestStore, each_backend};
use gatehouse_storage::{
    ApiKeyRecord, DeployTo, DeploymentDeletion, DeploymentRecord, StageDeploymentRecord,
    StageRecord, StorageError, Store, StoreOptions, UsageDelta, UsagePlanRecord,
};

const T0: i64 = 1_700_000_000_000;
const DAY: i64 = 86_400_000;

fn key(id: &str, hash: u8) -> ApiKeyRecord {
    ApiKeyRecord {
        id: id.to_owned(),
        name: format!("name-{id}"),
        description: Some("for tests".to_owned()),
        key_hash: vec![hash; 32],
        prefix: "abcdefgh".to_owned(),
        enabled: true,
        created_at: T0,
        updated_at: T0,
    }
}

fn delta(key: &str, count: i64) -> UsageDelta {
    UsageDelta {
        plan_id: "plan1".to_owned(),
        key_id: key.to_owned(),
        period_start: T0,
        day: T0,
        count,
    }
}

#[tokio::test]
async fn api_keys_round_trip_and_bump_the_generation() {
    each_backend(async |t: &TestStore| {
        let g = t.store.gateway();
        let g0 = g.generation().await.unwrap();
        g.insert_api_key(&key("k1", 1)).await.unwrap();
        assert!(g.generation().await.unwrap() > g0);
        // The value (its hash) is unique; so is the id.
        assert!(matches!(
            g.insert_api_key(&key("k2", 1)).await,
            Err(StorageError::Conflict { .. })
        ));
        assert!(matches!(
            g.insert_api_key(&key("k1", 2)).await,
            Err(StorageError::Conflict { .. })
        ));
        g.insert_api_key(&key("k2", 2)).await.unwrap();
        assert_eq!(g.list_api_keys().await.unwrap().len(), 2);
        g.update_api_key("k1", "renamed", None, false, T0 + 1)
            .await
            .unwrap();
        let k1 = g.get_api_key("k1").await.unwrap().unwrap();
        assert_eq!(
            (k1.name.as_str(), k1.description, k1.enabled, k1.updated_at),
            ("renamed", None, false, T0 + 1)
        );
        assert!(matches!(
            g.update_api_key("nope", "x", None, true, T0).await,
            Err(StorageError::NotFound { .. })
        ));
        assert!(g.delete_api_key("k1").await.unwrap());
        assert!(!g.delete_api_key("k1").await.unwrap());
        assert!(g.get_api_key("k1").await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn plans_and_bindings() {
    each_backend(async |t: &TestStore| {
        let g = t.store.gateway();
        let plan = UsagePlanRecord {
            id: "plan1".to_owned(),
            name: "Basic".to_owned(),
            document: r#"{"quota":{"limit":10,"period":"DAY"}}"#.to_owned(),
            created_at: T0,
            updated_at: T0,
        };
        g.insert_usage_plan(&plan).await.unwrap();
        assert_eq!(g.list_usage_plans().await.unwrap(), vec![plan.clone()]);
        g.update_usage_plan("plan1", "Basic 2", "{}", T0 + 5)
            .await
            .unwrap();
        assert_eq!(
            g.get_usage_plan("plan1").await.unwrap().unwrap().name,
            "Basic 2"
        );
        g.insert_api_key(&key("k1", 1)).await.unwrap();
        g.add_plan_key("plan1", "k1", T0).await.unwrap();
        // A plan from a definition file (not stored) can be bound too.
        g.add_plan_key("file-plan", "k1", T0).await.unwrap();
        assert!(matches!(
            g.add_plan_key("plan1", "k1", T0).await,
            Err(StorageError::Conflict { .. })
        ));
        assert!(matches!(
            g.add_plan_key("plan1", "missing", T0).await,
            Err(StorageError::NotFound { .. })
        ));
        assert_eq!(g.list_plan_keys().await.unwrap().len(), 2);
        assert!(g.remove_plan_key("file-plan", "k1").await.unwrap());
        // Deleting the plan drops its bindings; deleting a key drops its bindings.
        assert!(g.delete_usage_plan("plan1").await.unwrap());
        assert!(g.list_plan_keys().await.unwrap().is_empty());
        g.add_plan_key("file-plan", "k1", T0).await.unwrap();
        g.delete_api_key("k1").await.unwrap();
        assert!(g.list_plan_keys().await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn usage_counters_add_up_across_stores() {
    each_backend(async |t: &TestStore| {
        let other = Store::open(t.url(), StoreOptions::default()).await.unwrap();
        let a = t.store.gateway();
        let b = other.gateway();
        assert_eq!(
            a.add_usage(&[delta("k1", 3), delta("k2", 1)])
                .await
                .unwrap(),
            vec![3, 1]
        );
        assert_eq!(b.add_usage(&[delta("k1", 4)]).await.unwrap(), vec![7]);
        assert_eq!(a.quota_used("plan1", "k1", T0).await.unwrap(), 7);
        assert_eq!(a.quota_used("plan1", "k1", T0 + DAY).await.unwrap(), 0);
        let mut next_day = delta("k1", 2);
        next_day.day = T0 + DAY;
        b.add_usage(&[next_day]).await.unwrap();
        let days = a
            .daily_usage("plan1", Some("k1"), T0, T0 + DAY)
            .await
            .unwrap();
        assert_eq!(
            days.iter().map(|d| (d.day, d.used)).collect::<Vec<_>>(),
            vec![(T0, 7), (T0 + DAY, 2)]
        );
        let all = a.daily_usage("plan1", None, T0, T0).await.unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].key_id, "k2");
        other.close().await;
    })
    .await;
}

fn deployment(api: &str, id: &str, at: i64) -> DeploymentRecord {
    DeploymentRecord {
        api_id: api.to_owned(),
        id: id.to_owned(),
        description: (id == "d1").then(|| "first".to_owned()),
        source: format!(r#"{{"name":"{api}.yaml","text":"…"}}"#),
        created_at: at,
    }
}

fn pointer(api: &str, stage: &str, deployment: &str, at: i64) -> StageDeploymentRecord {
    StageDeploymentRecord {
        api_id: api.to_owned(),
        stage: stage.to_owned(),
        deployment_id: deployment.to_owned(),
        updated_at: at,
    }
}

#[tokio::test]
async fn deployments_and_stage_pointers() {
    each_backend(async |t: &TestStore| {
        let g = t.store.gateway();
        let g0 = g.generation().await.unwrap();
        g.insert_deployment(&deployment("shop", "d1", T0))
            .await
            .unwrap();
        assert!(
            g.generation().await.unwrap() > g0,
            "other nodes must notice"
        );
        g.insert_deployment(&deployment("shop", "d2", T0 + 1))
            .await
            .unwrap();
        // The same id in another API is another deployment; twice in one API is a conflict.
        g.insert_deployment(&deployment("pets", "d1", T0 + 2))
            .await
            .unwrap();
        assert!(matches!(
            g.insert_deployment(&deployment("shop", "d1", T0 + 3)).await,
            Err(StorageError::Conflict { .. })
        ));
        let listed = g.list_deployments().await.unwrap();
        assert_eq!(
            listed
                .iter()
                .map(|d| (d.api_id.as_str(), d.id.as_str()))
                .collect::<Vec<_>>(),
            [("shop", "d1"), ("shop", "d2"), ("pets", "d1")]
        );
        assert_eq!(listed[0], deployment("shop", "d1", T0));

        // Pointers: set, replaced (rollback), only to a stored deployment of the same API.
        g.set_stage_deployment(&pointer("shop", "prod", "d2", T0))
            .await
            .unwrap();
        let g1 = g.generation().await.unwrap();
        g.set_stage_deployment(&pointer("shop", "prod", "d1", T0 + 5))
            .await
            .unwrap();
        assert!(g.generation().await.unwrap() > g1);
        g.set_stage_deployment(&pointer("pets", "prod", "d1", T0))
            .await
            .unwrap();
        assert!(matches!(
            g.set_stage_deployment(&pointer("pets", "prod", "d2", T0))
                .await,
            Err(StorageError::NotFound { .. })
        ));
        assert_eq!(
            g.list_stage_deployments().await.unwrap(),
            [
                pointer("pets", "prod", "d1", T0),
                pointer("shop", "prod", "d1", T0 + 5)
            ]
        );
    })
    .await;
}

fn stage(api: &str, name: &str, deployment: &str, at: i64) -> StageRecord {
    StageRecord {
        api_id: api.to_owned(),
        name: name.to_owned(),
        deployment_id: deployment.to_owned(),
        document: format!(r#"{{"variables":{{"stage":"{name}"}}}}"#),
        created_at: T0,
        updated_at: at,
    }
}

#[tokio::test]
async fn run_time_stages_deploy_and_delete_deployments() {
    each_backend(async |t: &TestStore| {
        let g = t.store.gateway();
        g.insert_deployment(&deployment("shop", "d1", T0))
            .await
            .unwrap();

        // A stage names a stored deployment of its own API; a name is taken once per API.
        let g0 = g.generation().await.unwrap();
        g.insert_stage(&stage("shop", "dev", "d1", T0))
            .await
            .unwrap();
        assert!(
            g.generation().await.unwrap() > g0,
            "other nodes must notice"
        );
        assert!(matches!(
            g.insert_stage(&stage("shop", "dev", "d1", T0)).await,
            Err(StorageError::Conflict { .. })
        ));
        assert!(matches!(
            g.insert_stage(&stage("shop", "qa", "nope", T0)).await,
            Err(StorageError::NotFound { .. })
        ));
        assert!(matches!(
            g.insert_stage(&stage("pets", "qa", "d1", T0)).await,
            Err(StorageError::NotFound { .. })
        ));

        // CreateDeployment to a run-time stage: the deployment and the move in one
        // transaction, the document replaced; to a new name it creates the stage.
        let g1 = g.generation().await.unwrap();
        g.deploy(
            &deployment("shop", "d2", T0 + 1),
            DeployTo::RuntimeStage {
                stage: "dev",
                document: "{}",
            },
        )
        .await
        .unwrap();
        assert!(g.generation().await.unwrap() > g1);
        g.deploy(
            &deployment("shop", "d3", T0 + 2),
            DeployTo::RuntimeStage {
                stage: "qa",
                document: r#"{"new":true}"#,
            },
        )
        .await
        .unwrap();
        g.deploy(
            &deployment("shop", "d4", T0 + 3),
            DeployTo::FileStage { stage: "prod" },
        )
        .await
        .unwrap();
        // A conflicting deployment id stores nothing, the stage included.
        assert!(matches!(
            g.deploy(
                &deployment("shop", "d1", T0 + 4),
                DeployTo::RuntimeStage {
                    stage: "other",
                    document: "{}",
                },
            )
            .await,
            Err(StorageError::Conflict { .. })
        ));
        let mut dev = stage("shop", "dev", "d2", T0 + 1);
        dev.document = "{}".to_owned();
        let mut qa = stage("shop", "qa", "d3", T0 + 2);
        qa.document = r#"{"new":true}"#.to_owned();
        qa.created_at = T0 + 2;
        assert_eq!(g.list_stages().await.unwrap(), [dev.clone(), qa.clone()]);
        assert_eq!(
            g.list_stage_deployments().await.unwrap(),
            [pointer("shop", "prod", "d4", T0 + 3)]
        );

        // UpdateStage: deployment and document replaced, only to a stored deployment.
        dev.deployment_id = "d1".to_owned();
        dev.document = r#"{"x":1}"#.to_owned();
        dev.updated_at = T0 + 9;
        g.update_stage(&dev).await.unwrap();
        assert!(matches!(
            g.update_stage(&stage("shop", "dev", "nope", T0)).await,
            Err(StorageError::NotFound { .. })
        ));
        assert!(matches!(
            g.update_stage(&stage("shop", "ghost", "d1", T0)).await,
            Err(StorageError::NotFound { .. })
        ));
        assert_eq!(g.list_stages().await.unwrap()[0], dev);

        // DeleteDeployment: refused while a stage or a pointer names it.
        assert_eq!(
            g.delete_deployment("shop", "d1", &[]).await.unwrap(),
            DeploymentDeletion::InUse {
                stages: vec!["dev".to_owned()]
            }
        );
        assert_eq!(
            g.delete_deployment("shop", "d4", &[]).await.unwrap(),
            DeploymentDeletion::InUse {
                stages: vec!["prod".to_owned()]
            }
        );
        // A pointer of a stage the definition dropped goes with the deployment.
        let g2 = g.generation().await.unwrap();
        assert_eq!(
            g.delete_deployment("shop", "d4", &["prod".to_owned()])
                .await
                .unwrap(),
            DeploymentDeletion::Deleted
        );
        assert!(g.generation().await.unwrap() > g2);
        assert!(g.list_stage_deployments().await.unwrap().is_empty());
        assert_eq!(
            g.delete_deployment("shop", "d2", &[]).await.unwrap(),
            DeploymentDeletion::Deleted
        );
        assert_eq!(
            g.delete_deployment("shop", "d2", &[]).await.unwrap(),
            DeploymentDeletion::NotFound
        );

        // DeleteStage, then its deployment can go.
        assert!(g.delete_stage("shop", "dev").await.unwrap());
        assert!(!g.delete_stage("shop", "dev").await.unwrap());
        assert_eq!(
            g.delete_deployment("shop", "d1", &[]).await.unwrap(),
            DeploymentDeletion::Deleted
        );
        assert_eq!(g.list_stages().await.unwrap(), [qa]);
        assert_eq!(
            g.list_deployments()
                .await
                .unwrap()
                .iter()
                .map(|d| d.id.as_str())
                .collect::<Vec<_>>(),
            ["d3"]
        );
    })
    .await;
}
