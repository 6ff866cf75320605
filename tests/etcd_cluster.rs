//! A real 3-member etcd cluster with mutual TLS for clients and peers, running on
//! certificates made by the tools under test (kpki's cfssl symlinks, or real cfssl when
//! `KPKI_TEST_TOOLS_DIR` is set).

mod common;

use common::etcd::{check_etcd_cluster, make_etcd_pki, verify_etcd_pki_with_openssl};
use common::{Workspace, require_program};

#[test]
fn three_member_etcd_cluster_with_mutual_tls() {
    if !require_program("etcd") || !require_program("etcdctl") || !require_program("openssl") {
        return;
    }
    let ws = Workspace::new();
    let pki = make_etcd_pki(&ws, "pki", 3, "etcd CA");
    // An unrelated CA whose client certificate the cluster must refuse.
    let foreign = make_etcd_pki(&ws, "foreign", 0, "foreign CA");
    verify_etcd_pki_with_openssl(&ws, &pki);
    check_etcd_cluster(&pki, &foreign, &ws.path("etcd"));
}
