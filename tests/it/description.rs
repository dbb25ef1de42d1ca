//! Each attribute-generated requirement describes itself statically (`Requirement::DESCRIPTION`):
//! the one description the challenges' `scope`, `scopes_supported`, the doctor and the
//! documentation read.

// The handlers exist for the requirement types their attributes generate.
#![allow(dead_code)]

use route_guard::{
    require_acr, require_actor, require_auth, require_auth_age, require_claim, require_permissions,
    require_role, require_scopes, Description, NameGroup, Requirement, StandardClaims,
};

#[require_auth]
async fn plain() {}

#[require_scopes("read:messages", "write:messages")]
#[require_scopes(any("messages:admin", "admin"))]
async fn scoped() {}

#[require_permissions("delete:messages")]
#[require_role(any("admin", "manager"))]
async fn rbac() {}

fn is_gold(_: &StandardClaims) -> bool {
    true
}

#[require_claim(org_id = "org_123")]
#[require_claim(includes(groups = ["editor", "viewer"]))]
#[require_claim(check = is_gold)]
#[require_actor]
async fn claims() {}

#[require_acr("mfa", "phr")]
#[require_auth_age(max_secs = 300)]
async fn step_up() {}

#[test]
fn every_kind_of_condition_is_described() {
    assert_eq!(
        <__RouteGuardReq_plain as Requirement>::DESCRIPTION,
        Description::NONE
    );
    assert_eq!(
        <__RouteGuardReq_plain as Requirement>::DESCRIPTION.to_string(),
        "a valid token"
    );

    let scoped = <__RouteGuardReq_scoped as Requirement>::DESCRIPTION;
    assert_eq!(
        scoped.scopes,
        [
            NameGroup::all(&["read:messages", "write:messages"]),
            NameGroup::any(&["messages:admin", "admin"])
        ]
    );
    assert_eq!(
        scoped.scope_names(),
        ["read:messages", "write:messages", "messages:admin", "admin"]
    );
    assert!(scoped.permissions.is_empty() && scoped.roles.is_empty());

    let rbac = <__RouteGuardReq_rbac as Requirement>::DESCRIPTION;
    assert_eq!(rbac.permissions, [NameGroup::all(&["delete:messages"])]);
    assert_eq!(rbac.roles, [NameGroup::any(&["admin", "manager"])]);
    assert!(rbac.scopes.is_empty());
    assert_eq!(
        rbac.to_string(),
        "the permission delete:messages; one of the roles admin, manager"
    );

    let claims = <__RouteGuardReq_claims as Requirement>::DESCRIPTION;
    assert_eq!(
        claims.claims,
        [
            "org_id = \"org_123\"",
            "groups includes editor, viewer",
            "check `is_gold`",
            "a delegated token (act)"
        ]
    );

    let step_up = <__RouteGuardReq_step_up as Requirement>::DESCRIPTION;
    assert_eq!(step_up.acr, ["mfa", "phr"]);
    assert_eq!(step_up.max_auth_age, Some(300));
    assert_eq!(
        step_up.to_string(),
        "a login of the class mfa or phr; a login within the last 300 s"
    );
}
