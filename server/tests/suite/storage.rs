//! The embedded database and PostgreSQL keep the store contract, and the
//! game runs on them.

use std::sync::Arc;

use crate::common::TestDatabase;
use bus::{Bus, BusBuilder, CaptureHook, Runtime};
use domain::{Alias, GetUsersOnline, UserConnected};
use server::storage::{PostgresStore, SqliteStore};

#[tokio::test]
async fn sqlite_keeps_the_store_contract() {
    let data = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(data.path()).await.unwrap();
    bus::testkit::store_contract(&store).await;
}

#[tokio::test]
async fn sqlite_keeps_the_store_contract_for_states_left_on_disk() {
    // The contract's state type, read from the file instead of memory.
    let data = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_with(data.path(), &["Note"])
        .await
        .unwrap();
    bus::testkit::store_contract(&store).await;
    // Read from the file: a change made there shows at once.
    let file = data.path().join(server::storage::DATABASE_FILE);
    let mut other = <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!(
        "sqlite://{}",
        file.display()
    ))
    .await
    .unwrap();
    sqlx::query("UPDATE states SET body = '\"changed\"' WHERE state_type = 'Note' AND id = 'a'")
        .execute(&mut other)
        .await
        .unwrap();
    let key = bus::StateKey {
        state_type: "Note",
        id: "a".into(),
    };
    let read = bus::Store::load(&store, &key).await.unwrap().unwrap();
    assert_eq!(read.body.to_json_text().as_ref(), "\"changed\"");
}

#[tokio::test]
async fn sqlite_finds_states_left_on_disk_once_folded_and_after_a_restart_and_no_others() {
    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Record(u32);
    bus::states!(Record);
    use bus::{Change, Commit, StateBody, StateKey, Store, StoreError};

    let data = tempfile::tempdir().unwrap();
    let key = |id: &str| StateKey::of::<Record>(id);
    let create = |id: &str, n: u32| {
        Commit::state(Some(key(id)), None, Change::Set(StateBody::live(Record(n))))
    };
    async fn read(store: &SqliteStore, id: &str) -> Option<(u64, Record)> {
        let stored = store.load(&StateKey::of::<Record>(id)).await.unwrap();
        stored.map(|stored| (stored.version, stored.body.decode::<Record>().unwrap()))
    }
    {
        let store = SqliteStore::open_with(data.path(), &["Record"])
            .await
            .unwrap();
        assert_eq!(read(&store, "a").await, None);
        store.commit(create("a", 1)).await.unwrap();
        // The store folds before it reads schedules: "a" is in the table
        // only from then on.
        store.pending_schedules().await.unwrap();
        assert_eq!(read(&store, "a").await, Some((1, Record(1))));
        store.commit(create("b", 2)).await.unwrap();
        assert_eq!(read(&store, "b").await, Some((1, Record(2))));
    }
    // Opened again: "b" is folded in at the start, and both are known to
    // be in the table.
    let store = SqliteStore::open_with(data.path(), &["Record"])
        .await
        .unwrap();
    assert_eq!(read(&store, "a").await, Some((1, Record(1))));
    assert_eq!(read(&store, "b").await, Some((1, Record(2))));
    assert_eq!(read(&store, "c").await, None);
    let again = store.commit(create("a", 3)).await;
    assert!(
        matches!(again, Err(StoreError::Conflict { .. })),
        "{again:?}"
    );
    store.commit(create("c", 4)).await.unwrap();
    assert_eq!(read(&store, "c").await, Some((1, Record(4))));
}

#[tokio::test]
async fn postgres_keeps_the_store_contract() {
    let database = TestDatabase::create().await;
    let store = PostgresStore::open(&database.url).await.unwrap();
    bus::testkit::store_contract(&store).await;
    database.drop_it().await;
}

#[tokio::test]
async fn presence_works_on_sqlite() {
    let data = tempfile::tempdir().unwrap();
    presence_works_on(Arc::new(SqliteStore::open(data.path()).await.unwrap())).await;
}

#[tokio::test]
async fn presence_works_on_postgres() {
    let database = TestDatabase::create().await;
    presence_works_on(Arc::new(PostgresStore::open(&database.url).await.unwrap())).await;
    database.drop_it().await;
}

async fn presence_works_on(store: Arc<dyn bus::Store>) {
    let mut handlers = BusBuilder::new();
    domain::register(&mut handlers, domain::Rules::default());
    let capture = Arc::new(CaptureHook::new());
    let bus = Bus::start(
        handlers.build().unwrap(),
        Runtime::new().store(store).hook(capture.clone()),
    )
    .await
    .unwrap();
    let user_id = domain::UserId::from_u128(1);
    bus.publish(UserConnected {
        user_id,
        alias: Alias::parse("a").unwrap(),
        connection_id: user_id.uuid(),
    })
    .unwrap();
    bus.settle().await;
    assert_eq!(bus.query(GetUsersOnline {}).await.unwrap().len(), 1);
}

#[tokio::test]
async fn presence_stays_in_memory_and_everything_else_goes_to_disk() {
    use server::storage::ephemeral::WithEphemeral;
    let open = || async {
        let data = tempfile::tempdir().unwrap();
        let disk = Arc::new(SqliteStore::open(data.path()).await.unwrap());
        let both = Arc::new(WithEphemeral::new(
            disk.clone(),
            domain::presence::EPHEMERAL_STATES,
        ));
        (data, disk, both)
    };
    let (_data, _, both) = open().await;
    bus::testkit::store_contract(both.as_ref()).await;
    let (_data, disk, both) = open().await;
    presence_works_on(both.clone()).await;
    let lobby = <domain::presence::Lobby as bus::State>::TYPE;
    assert_eq!(
        bus::Store::scan(both.as_ref(), lobby).await.unwrap().len(),
        1,
        "the lobby is kept"
    );
    assert!(
        bus::Store::scan(disk.as_ref(), lobby)
            .await
            .unwrap()
            .is_empty(),
        "but not on disk"
    );
}
