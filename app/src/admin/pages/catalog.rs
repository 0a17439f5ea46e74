//! `/admin/catalog`: the platform's notebook images and sizes, edited by
//! platform admins. The catalog itself and its server functions live with
//! the notebooks (`notebooks::catalog`, `notebooks::api`).

use crate::components::error_view::ErrorView;
use crate::components::notice::ActionNotice;
use crate::notebooks::api::{SaveCatalog, get_catalog};
use crate::notebooks::catalog::{Catalog, ImageEntry, SizeEntry};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn CatalogPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_catalog());
    view! {
        <Title text="Notebook catalog"/>
        <h1 class="page-title">"Platform"</h1>
        <super::AdminTabs/>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <ErrorView error=e/> }.into_any(),
                    Ok(c) => view! { <CatalogEditor catalog=c/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The editable catalog: the page's island.
#[island(lazy)]
fn CatalogEditor(catalog: Catalog) -> impl IntoView {
    let draft = RwSignal::new(catalog);
    let save = ServerAction::<SaveCatalog>::new();
    let problems = move || draft.with(|c| c.problems());
    let text = move |get: fn(&ImageEntry) -> String, set: fn(&mut ImageEntry, String), i: usize, testid: &'static str| {
        view! { <input class="input w-full" data-testid=testid prop:value=move || draft.with(|c| c.images.get(i).map(get).unwrap_or_default())
            on:input=move |e| draft.update(|c| if let Some(x) = c.images.get_mut(i) { set(x, event_target_value(&e)) })/> }
    };
    let stext = move |get: fn(&SizeEntry) -> String, set: fn(&mut SizeEntry, String), i: usize, testid: &'static str| {
        view! { <input class="input w-full" data-testid=testid prop:value=move || draft.with(|c| c.sizes.get(i).map(get).unwrap_or_default())
            on:input=move |e| draft.update(|c| if let Some(x) = c.sizes.get_mut(i) { set(x, event_target_value(&e)) })/> }
    };
    view! {
        <section class="card space-y-3">
            <h2 class="section-title">"Images"</h2>
            <p class="hint">"Offered in this order on the create form. Disabled entries stay on notebooks made from them but are not offered."</p>
            <table class="table"><thead><tr><th>"Id"</th><th>"Display name"</th><th>"Description"</th><th>"Image"</th><th>"Tag"</th><th>"GPU"</th><th>"Enabled"</th><th></th></tr></thead>
            <tbody>
                {move || (0..draft.with(|c| c.images.len())).map(|i| view! {
                    <tr data-testid="catalog-image">
                        <td>{text(|x| x.id.clone(), |x, v| x.id = v, i, "img-id")}</td>
                        <td>{text(|x| x.display_name.clone(), |x, v| x.display_name = v, i, "img-name")}</td>
                        <td>{text(|x| x.description.clone(), |x, v| x.description = v, i, "img-desc")}</td>
                        <td>{text(|x| x.image.clone(), |x, v| x.image = v, i, "img-image")}</td>
                        <td>{text(|x| x.tag.clone(), |x, v| x.tag = v, i, "img-tag")}</td>
                        <td><input type="checkbox" prop:checked=move || draft.with(|c| c.images.get(i).is_some_and(|x| x.gpu)) on:change=move |e| draft.update(|c| if let Some(x) = c.images.get_mut(i) { x.gpu = event_target_checked(&e) })/></td>
                        <td><input type="checkbox" data-testid="img-enabled" prop:checked=move || draft.with(|c| c.images.get(i).is_some_and(|x| x.enabled)) on:change=move |e| draft.update(|c| if let Some(x) = c.images.get_mut(i) { x.enabled = event_target_checked(&e) })/></td>
                        <td class="whitespace-nowrap">
                            <button class="btn-quiet" title="Move up" disabled=i == 0 on:click=move |_| draft.update(|c| c.images.swap(i - 1, i))>"↑"</button>
                            <button class="btn-quiet" title="Remove" on:click=move |_| draft.update(|c| { c.images.remove(i); })>"✕"</button>
                        </td>
                    </tr>
                }).collect_view()}
            </tbody></table>
            <button class="btn-quiet" data-testid="img-add" on:click=move |_| draft.update(|c| c.images.push(ImageEntry { enabled: true, ..Default::default() }))>"Add image"</button>
        </section>
        <section class="card space-y-3">
            <h2 class="section-title">"Sizes"</h2>
            <table class="table"><thead><tr><th>"Id"</th><th>"Display name"</th><th>"CPU request"</th><th>"CPU limit"</th><th>"Memory request"</th><th>"Memory limit"</th><th>"Enabled"</th><th></th></tr></thead>
            <tbody>
                {move || (0..draft.with(|c| c.sizes.len())).map(|i| view! {
                    <tr data-testid="catalog-size">
                        <td>{stext(|x| x.id.clone(), |x, v| x.id = v, i, "size-id")}</td>
                        <td>{stext(|x| x.display_name.clone(), |x, v| x.display_name = v, i, "size-name")}</td>
                        <td>{stext(|x| x.cpu_request.clone(), |x, v| x.cpu_request = v, i, "size-cpu-request")}</td>
                        <td>{stext(|x| x.cpu_limit.clone(), |x, v| x.cpu_limit = v, i, "size-cpu-limit")}</td>
                        <td>{stext(|x| x.memory_request.clone(), |x, v| x.memory_request = v, i, "size-memory-request")}</td>
                        <td>{stext(|x| x.memory_limit.clone(), |x, v| x.memory_limit = v, i, "size-memory-limit")}</td>
                        <td><input type="checkbox" prop:checked=move || draft.with(|c| c.sizes.get(i).is_some_and(|x| x.enabled)) on:change=move |e| draft.update(|c| if let Some(x) = c.sizes.get_mut(i) { x.enabled = event_target_checked(&e) })/></td>
                        <td class="whitespace-nowrap">
                            <button class="btn-quiet" title="Move up" disabled=i == 0 on:click=move |_| draft.update(|c| c.sizes.swap(i - 1, i))>"↑"</button>
                            <button class="btn-quiet" title="Remove" on:click=move |_| draft.update(|c| { c.sizes.remove(i); })>"✕"</button>
                        </td>
                    </tr>
                }).collect_view()}
            </tbody></table>
            <button class="btn-quiet" data-testid="size-add" on:click=move |_| draft.update(|c| c.sizes.push(SizeEntry { enabled: true, ..Default::default() }))>"Add size"</button>
        </section>
        <section class="card space-y-2">
            <ul class="list-disc pl-5 text-sm text-rose-700 dark:text-rose-300" data-testid="catalog-problems">
                {move || problems().into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}
            </ul>
            <button class="btn-primary" data-testid="catalog-save" on:click=move |_| { save.dispatch(SaveCatalog { catalog: draft.get() }); }>"Save catalog"</button>
            <ActionNotice result=save.value() ok="Catalog saved. New notebooks offer these entries." testid="catalog-result"/>
        </section>
    }
}

