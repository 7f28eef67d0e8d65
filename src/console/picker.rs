//! The permission picker of the console's token forms, built from the
//! catalogue (`permissions::catalogue`, the list `GET /api/v1/permissions`
//! serves): no second list of permissions lives in the console.

use maud::{Markup, html};

use super::session::FormData;
use crate::permissions::{CatalogueEntry, TokenLevel, catalogue};

/// The workspace permissions of the catalogue (the one list, also served
/// by `GET /api/v1/permissions`), by resource, in catalogue order.
pub fn workspace_picker() -> Vec<(&'static str, Vec<CatalogueEntry>)> {
    let mut out: Vec<(&'static str, Vec<CatalogueEntry>)> = Vec::new();
    for e in catalogue().into_iter().filter(|e| e.level == "workspace") {
        match out.iter_mut().find(|(r, _)| *r == e.resource) {
            Some((_, levels)) => levels.push(e),
            None => out.push((e.resource, vec![e])),
        }
    }
    out
}

/// The checkboxes (organization) or per-resource levels (workspace) of a
/// token of `tab`'s level; `has` says which are checked.
pub fn permission_picker(tab: TokenLevel, has: &dyn Fn(&str) -> bool) -> Markup {
    html! {
        @if tab == TokenLevel::Organization {
            fieldset {
                legend { "Permissions" }
                @for p in catalogue().iter().filter(|e| e.held_by.contains(&"organization_token")) {
                    div class="check" {
                        input type="checkbox" id={ "perm-" (p.name) } name="permission"
                            value=(p.name) checked[has(&p.name)];
                        label for={ "perm-" (p.name) } { code { (p.name) } " " span class="muted small" { (p.description) } }
                    }
                }
            }
        } @else {
            fieldset class="picker" {
                legend { "Permissions" }
                p class="muted small" { "Edit includes read; create & delete includes edit. Connect stands alone." }
                @for (resource, levels) in workspace_picker() {
                    fieldset class="resource" {
                        legend { (levels[0].resource_label) }
                        div class="levels" {
                            @let chain: Vec<&CatalogueEntry> = levels.iter().filter(|e| e.access != "connect").collect();
                            @let none = !chain.iter().any(|e| has(&e.name));
                            span class="radio" {
                                input type="radio" id={ "lv-" (resource) "-none" } name={ "level." (resource) } value="" checked[none];
                                label for={ "lv-" (resource) "-none" } { "No access" }
                            }
                            @for e in &chain {
                                @let id = format!("lv-{}-{}", resource, e.access);
                                span class="radio" {
                                    input type="radio" id=(id) name={ "level." (resource) } value=(e.access)
                                        checked[has(&e.name)] title=(e.description);
                                    label for=(id) { (e.access_label) }
                                }
                            }
                            @for e in levels.iter().filter(|e| e.access == "connect") {
                                @let cid = format!("lv-{}-connect", resource);
                                span class="radio" {
                                    input type="checkbox" id=(cid) name={ "connect." (resource) } value="1"
                                        checked[has(&e.name)] title=(e.description);
                                    label for=(cid) { (e.access_label) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The permissions a picker's form holds.
pub fn read_permissions(form: &FormData, tab: TokenLevel) -> Vec<String> {
    let mut perms: Vec<String> = Vec::new();
    if tab == TokenLevel::Organization {
        perms.extend(form.all("permission").into_iter().map(str::to_string));
    } else {
        for (r, _) in workspace_picker() {
            if let Some(l) = form.text(&format!("level.{r}")) {
                perms.push(format!("{r}:{l}"));
            }
            if form.get(&format!("connect.{r}")).is_some() {
                perms.push(format!("{r}:connect"));
            }
        }
    }
    perms
}
