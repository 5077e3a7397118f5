/* The inventory map's side filters and overlays, drawn in place.

   Once the page is there, the départements, communes, choropleths and heatmap
   of the current filters are fetched from the form's data-overlays-url (their
   polygons would weigh hundreds of kilobytes in the page). On a filter change,
   the building layer, the count and the list come from data-selection-url and
   the overlays again from data-overlays-url; the filters go into the address
   (history.replaceState), so that a reload or a shared link gives the same map.
   Without JavaScript the form is a plain GET that reloads the page; a filter the
   server refuses, or a network error, falls back to it. No inline handler: the
   CSP refuses them. */
/* global IntercalaireMaps */
'use strict';
(function () {
    // Django's NullBooleanSelect (the ERP filter) says "unknown" for "any".
    const ANY = ['', 'unknown'];
    const form = document.querySelector('form[data-maps-filters]');
    if (!form || !window.fetch || !window.history || !window.IntercalaireMaps ||
            !IntercalaireMaps.maps.length) {
        return;
    }
    const main = document.querySelector('[data-maps-busy]');
    const count = document.querySelector('[data-maps-count]');
    const results = document.querySelector('[data-maps-results]');
    const notes = document.querySelector('[data-maps-overlay-notes]');
    let applied = query();
    const pending = {};
    let timer = null;

    /* The form's filters as a query string, fields with no value left out. */
    function query() {
        const params = new URLSearchParams();
        new FormData(form).forEach(function (value, name) {
            if (typeof value === 'string' && ANY.indexOf(value.trim()) === -1) {
                params.append(name, value.trim());
            }
        });
        return params.toString();
    }

    function withQuery(path, search) {
        return search ? path + '?' + search : path;
    }

    /* GET url as JSON; a newer request of the same name aborts this one. */
    function fetchJson(name, url) {
        if (pending[name]) {
            pending[name].abort();
        }
        const controller = new AbortController();
        pending[name] = controller;
        return fetch(url, {
            headers: {Accept: 'application/json'},
            credentials: 'same-origin',
            signal: controller.signal
        }).then(function (response) {
            if (!response.ok) {
                throw new Error(String(response.status));
            }
            return response.json();
        }).then(function (body) {
            pending[name] = null;
            return body;
        });
    }

    // The selection and the overlays fail together: submit once (a second
    // submit aborted the first navigation).
    let leaving = false;
    function fallBack(error) {
        if (error.name !== 'AbortError' && !leaving) {
            leaving = true;
            form.submit();
        }
    }

    function loadOverlays(search) {
        return fetchJson('overlays', withQuery(form.dataset.overlaysUrl, search))
            .then(function (body) {
                IntercalaireMaps.setOverlays(body);
                notes.textContent = '';
                body.notes.forEach(function (text) {
                    const note = document.createElement('p');
                    note.className = 'fr-text--sm fr-mb-1v';
                    note.textContent = text;
                    notes.appendChild(note);
                });
                main.dataset.overlays = search;
            });
    }

    /* While a value is being typed, a filter the server refuses (a code typed
       halfway: "1305") is not an error yet: the map stays as it was, and the
       value is sent again once typing or the field is done (a change, the
       button), when a refusal reloads the page with its errors. */
    function apply(typing) {
        const search = query();
        if (search === applied) {
            return;
        }
        const before = applied;
        applied = search;
        main.dataset.mapsBusy = 'true';
        function refused(error) {
            if (typing && error.message === '400') {
                applied = before;
                main.dataset.mapsBusy = 'false';
                return;
            }
            fallBack(error);
        }
        fetchJson('selection', withQuery(form.dataset.selectionUrl, search))
            .then(function (body) {
                IntercalaireMaps.replaceLayer('buildings', body.layer);
                // Server-rendered fragments (Django templates, escaped there).
                count.innerHTML = body.count;
                results.innerHTML = body.results;
                history.replaceState(null, '', withQuery(form.action.split('?')[0], search));
                main.dataset.mapsBusy = 'false';
            })
            .catch(refused);
        loadOverlays(search).catch(refused);
    }

    form.addEventListener('submit', function (event) {
        event.preventDefault();
        window.clearTimeout(timer);
        apply();
    });
    // Checkboxes and selects apply at once; typed values once typing pauses.
    form.addEventListener('change', function () {
        window.clearTimeout(timer);
        timer = window.setTimeout(apply, 150);
    });
    form.addEventListener('input', function (event) {
        if (event.target.type === 'checkbox' || event.target.tagName === 'SELECT') {
            return;
        }
        window.clearTimeout(timer);
        timer = window.setTimeout(function () {
            apply(true);
        }, 600);
    });
    const clear = document.querySelector('[data-maps-clear]');
    if (clear) {
        clear.addEventListener('click', function (event) {
            event.preventDefault();
            Array.prototype.forEach.call(form.elements, function (field) {
                if (field.type === 'checkbox' || field.type === 'radio') {
                    field.checked = false;
                } else if (field.tagName === 'SELECT') {
                    Array.prototype.forEach.call(field.options, function (option) {
                        option.selected = ANY.indexOf(option.value) !== -1;
                    });
                } else if (field.tagName === 'INPUT' && field.type !== 'submit') {
                    field.value = '';
                }
            });
            apply();
        });
    }
    // The overlays of the filters the page was loaded with.
    // (A page with refused filters shows their errors, and no overlay.)
    loadOverlays(applied).catch(function () {
        return null;
    });
}());
