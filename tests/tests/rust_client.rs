//! The `zookeeper-client` crate (async, tokio) against a server: CRUD, errors, watches,
//! multi-ops, ACLs and ephemeral/session lifecycle. Runs against `ZK_IMPL` (default zkraft;
//! `ZK_IMPL=apache` for the oracle).

use std::future::Future;
use std::time::Duration;

use tests::{ServerKind, ServerOptions, TestServer};
use zookeeper_client as zk;

const T: Duration = Duration::from_secs(30);

fn server() -> TestServer {
    TestServer::start(ServerKind::from_env(), ServerOptions::new()).expect("server starts")
}

/// Bounds a test body (every test must finish well within 60 s).
async fn bounded<F: Future<Output = ()>>(f: F) {
    tokio::time::timeout(T, f)
        .await
        .expect("test body timed out");
}

/// Awaits a watch notification with a deadline.
async fn within<F: Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(15), f)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

fn persistent() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

async fn connect(s: &TestServer) -> zk::Client {
    zk::Client::connector()
        .with_session_timeout(Duration::from_secs(10))
        .connect(&s.connect_string())
        .await
        .expect("connect")
}

#[tokio::test]
async fn crud_and_errors() {
    let s = server();
    bounded(async {
        let c = connect(&s).await;
        let (stat, seq) = c.create("/a", b"one", &persistent()).await.unwrap();
        assert_eq!(seq.into_i64(), -1);
        assert_eq!(
            (stat.version, stat.cversion, stat.aversion, stat.data_length),
            (0, 0, 0, 3)
        );
        assert_eq!(stat.ephemeral_owner, 0);
        assert_eq!(stat.czxid, stat.mzxid);
        assert_eq!(
            c.create("/a", b"", &persistent()).await.unwrap_err(),
            zk::Error::NodeExists
        );
        assert_eq!(
            c.create("/x/y", b"", &persistent()).await.unwrap_err(),
            zk::Error::NoNode
        );

        let (data, st) = c.get_data("/a").await.unwrap();
        assert_eq!((data.as_slice(), st), (&b"one"[..], stat));
        let st2 = c.set_data("/a", b"two", Some(0)).await.unwrap();
        assert_eq!(st2.version, 1);
        assert!(st2.mzxid > stat.mzxid);
        assert!(st2.mtime >= stat.mtime);
        assert_eq!(
            c.set_data("/a", b"x", Some(0)).await.unwrap_err(),
            zk::Error::BadVersion
        );
        assert_eq!(
            c.set_data("/nope", b"x", None).await.unwrap_err(),
            zk::Error::NoNode
        );
        assert_eq!(c.get_data("/a").await.unwrap().0, b"two");

        // Sequential children, numbered from the parent's cversion.
        let seq_opts = zk::CreateMode::PersistentSequential.with_acls(zk::Acls::anyone_all());
        let (_, s1) = c.create("/a/s-", b"", &seq_opts).await.unwrap();
        c.create("/a/plain", b"", &persistent()).await.unwrap();
        let (_, s2) = c.create("/a/s-", b"", &seq_opts).await.unwrap();
        assert_eq!((s1.into_i64(), s2.into_i64()), (0, 2));
        assert_eq!(s2.to_string(), "0000000002");
        let mut kids = c.list_children("/a").await.unwrap();
        kids.sort();
        assert_eq!(kids, ["plain", "s-0000000000", "s-0000000002"]);
        let (_, parent) = c.get_children("/a").await.unwrap();
        assert_eq!((parent.num_children, parent.cversion), (3, 3));

        assert_eq!(c.delete("/a", None).await.unwrap_err(), zk::Error::NotEmpty);
        assert_eq!(
            c.delete("/a/plain", Some(5)).await.unwrap_err(),
            zk::Error::BadVersion
        );
        for k in ["plain", "s-0000000000", "s-0000000002"] {
            c.delete(&format!("/a/{k}"), Some(0)).await.unwrap();
        }
        c.delete("/a", Some(1)).await.unwrap();
        assert_eq!(c.check_stat("/a").await.unwrap(), None);
        assert_eq!(c.delete("/a", None).await.unwrap_err(), zk::Error::NoNode);
        let mut root = c.list_children("/").await.unwrap();
        root.sort();
        assert_eq!(root, ["zookeeper"]);
    })
    .await;
}

#[tokio::test]
async fn watches() {
    let s = server();
    bounded(async {
        let c = connect(&s).await;
        let other = connect(&s).await;

        // exists-watch on a missing node
        let (none, w) = c.check_and_watch_stat("/w").await.unwrap();
        assert!(none.is_none());
        other.create("/w", b"0", &persistent()).await.unwrap();
        let ev = within("NodeCreated", w.changed()).await;
        assert_eq!(
            (ev.event_type, ev.path.as_str()),
            (zk::EventType::NodeCreated, "/w")
        );

        // data watch
        let (_, _, w) = c.get_and_watch_data("/w").await.unwrap();
        other.set_data("/w", b"1", None).await.unwrap();
        let ev = within("NodeDataChanged", w.changed()).await;
        assert_eq!(
            (ev.event_type, ev.path.as_str()),
            (zk::EventType::NodeDataChanged, "/w")
        );

        // child watch
        let (_, _, w) = c.get_and_watch_children("/w").await.unwrap();
        other.create("/w/k", b"", &persistent()).await.unwrap();
        let ev = within("NodeChildrenChanged", w.changed()).await;
        assert_eq!(
            (ev.event_type, ev.path.as_str()),
            (zk::EventType::NodeChildrenChanged, "/w")
        );

        // persistent recursive watch sees the whole subtree, and keeps firing
        let mut pw = c
            .watch("/w", zk::AddWatchMode::PersistentRecursive)
            .await
            .unwrap();
        other.create("/w/k/deep", b"", &persistent()).await.unwrap();
        other.set_data("/w/k", b"x", None).await.unwrap();
        other.delete("/w/k/deep", None).await.unwrap();
        let mut got = Vec::new();
        for _ in 0..3 {
            let ev = within("recursive events", pw.changed()).await;
            got.push((ev.event_type, ev.path));
        }
        assert_eq!(
            got,
            [
                (zk::EventType::NodeCreated, "/w/k/deep".to_string()),
                (zk::EventType::NodeDataChanged, "/w/k".to_string()),
                (zk::EventType::NodeDeleted, "/w/k/deep".to_string()),
            ]
        );

        // delete fires the data watch with NodeDeleted
        let (_, _, w) = c.get_and_watch_data("/w/k").await.unwrap();
        other.delete("/w/k", None).await.unwrap();
        let ev = within("NodeDeleted", w.changed()).await;
        assert_eq!(
            (ev.event_type, ev.path.as_str()),
            (zk::EventType::NodeDeleted, "/w/k")
        );
        let ev = within("recursive NodeDeleted", pw.changed()).await;
        assert_eq!(
            (ev.event_type, ev.path.as_str()),
            (zk::EventType::NodeDeleted, "/w/k")
        );
    })
    .await;
}

#[tokio::test]
async fn ephemeral_is_removed_when_session_closes() {
    let s = server();
    bounded(async {
        let owner = connect(&s).await;
        let observer = connect(&s).await;
        let eph = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
        let (stat, _) = owner.create("/eph", b"x", &eph).await.unwrap();
        assert_eq!(stat.ephemeral_owner, owner.session_id().0);
        assert_ne!(owner.session_id(), observer.session_id());
        assert_eq!(
            observer.list_ephemerals("/").await.unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(owner.list_ephemerals("/").await.unwrap(), ["/eph"]);
        assert_eq!(
            owner
                .create("/eph/kid", b"", &persistent())
                .await
                .unwrap_err(),
            zk::Error::NoChildrenForEphemerals
        );

        let (st, w) = observer.check_and_watch_stat("/eph").await.unwrap();
        assert_eq!(st.unwrap().ephemeral_owner, owner.session_id().0);
        drop(owner); // closes the session
        let ev = within("ephemeral deletion", w.changed()).await;
        assert_eq!(
            (ev.event_type, ev.path.as_str()),
            (zk::EventType::NodeDeleted, "/eph")
        );
        assert_eq!(observer.check_stat("/eph").await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn multi_is_atomic() {
    let s = server();
    bounded(async {
        let c = connect(&s).await;
        c.create("/m", b"", &persistent()).await.unwrap();
        let mut w = c.new_multi_writer();
        w.add_check_version("/m", 0).unwrap();
        w.add_create("/m/a", b"a", &persistent()).unwrap();
        w.add_set_data("/m", b"top", Some(0)).unwrap();
        w.add_create("/m/b", b"b", &persistent()).unwrap();
        w.add_delete("/m/b", Some(0)).unwrap();
        let res = w.commit().await.unwrap();
        assert_eq!(res.len(), 5);
        assert_eq!(res[0], zk::MultiWriteResult::Check);
        assert!(matches!(&res[1], zk::MultiWriteResult::Create { path, .. } if path == "/m/a"));
        assert!(matches!(&res[2], zk::MultiWriteResult::SetData { stat } if stat.version == 1));
        assert_eq!(res[4], zk::MultiWriteResult::Delete);

        // A failing op aborts the whole transaction.
        let mut w = c.new_multi_writer();
        w.add_create("/m/c", b"", &persistent()).unwrap();
        w.add_set_data("/m", b"nope", Some(0)).unwrap(); // version is 1 now
        w.add_create("/m/d", b"", &persistent()).unwrap();
        match w.commit().await {
            Err(zk::MultiWriteError::OperationFailed { index, source }) => {
                assert_eq!((index, source), (1, zk::Error::BadVersion));
            }
            other => panic!("expected OperationFailed, got {other:?}"),
        }
        let mut kids = c.list_children("/m").await.unwrap();
        kids.sort();
        assert_eq!(kids, ["a"]);
        assert_eq!(c.get_data("/m").await.unwrap().0, b"top");

        // Reads in one request.
        let mut r = c.new_multi_reader();
        r.add_get_data("/m").unwrap();
        r.add_get_children("/m").unwrap();
        r.add_get_data("/missing").unwrap();
        let res = r.commit().await.unwrap();
        assert_eq!(res.len(), 3);
        assert!(matches!(&res[0], zk::MultiReadResult::Data { data, .. } if data == b"top"));
        assert!(
            matches!(&res[1], zk::MultiReadResult::Children { children } if children == &["a"])
        );
        assert!(matches!(&res[2], zk::MultiReadResult::Error { err } if *err == zk::Error::NoNode));
    })
    .await;
}

#[tokio::test]
async fn digest_acl_and_auth() {
    let s = server();
    bounded(async {
        let alice = zk::Client::connector()
            .with_auth("digest", b"alice:secret")
            .connect(&s.connect_string())
            .await
            .unwrap();
        let anon = connect(&s).await;
        let creator_all = zk::CreateMode::Persistent.with_acls(zk::Acls::creator_all());
        alice.create("/private", b"p", &creator_all).await.unwrap();
        let (acl, _) = alice.get_acl("/private").await.unwrap();
        assert_eq!(acl.len(), 1);
        assert_eq!(
            (acl[0].scheme(), acl[0].id()),
            ("digest", "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=")
        );
        assert_eq!(alice.get_data("/private").await.unwrap().0, b"p");
        assert_eq!(
            anon.get_data("/private").await.unwrap_err(),
            zk::Error::NoAuth
        );
        assert_eq!(
            anon.set_data("/private", b"x", None).await.unwrap_err(),
            zk::Error::NoAuth
        );
        // Without READ or ADMIN even getAcl is refused.
        assert_eq!(
            anon.get_acl("/private").await.unwrap_err(),
            zk::Error::NoAuth
        );
        let users = alice.list_auth_users().await.unwrap();
        assert!(
            users
                .iter()
                .any(|u| u.scheme() == "digest" && u.user() == "alice"),
            "{users:?}"
        );

        anon.auth("digest", b"alice:secret").await.unwrap();
        assert_eq!(anon.get_data("/private").await.unwrap().0, b"p");

        // creator_all without any authenticated id is an invalid ACL.
        let nobody = connect(&s).await;
        assert_eq!(
            nobody.create("/x", b"", &creator_all).await.unwrap_err(),
            zk::Error::InvalidAcl
        );
    })
    .await;
}
