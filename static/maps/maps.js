/* Intercalaire maps: the Leaflet layers maps/render.py declares.
   Popups are built with DOM nodes and textContent (a designation is data, never
   markup), and every style is a canvas style or a CSS class: the page's content
   security policy refuses inline style attributes and inline event handlers. */
/* global L */
'use strict';
window.IntercalaireMaps = (function () {
    const maps = [];
    const layers = {};
    let control = null;

    function register(map) {
        maps.push(map);
        map.getContainer().dataset.ready = 'true';
    }

    function registerLayer(key, layer) {
        layers[key] = layer;
    }

    function colourOf(options, properties) {
        if (options.colourBy && properties) {
            const colour = options.colours[properties[options.colourBy]];
            if (colour) {
                return colour;
            }
        }
        return options.fillColour || options.colour;
    }

    function formatValue(options, field, value) {
        if (value === null || value === undefined || value === '') {
            return '—';
        }
        if (value === true) {
            return options.text.yes;
        }
        if (value === false) {
            return options.text.no;
        }
        if (field.name === options.colourBy && options.labels[value]) {
            return options.labels[value];
        }
        if (typeof value === 'number') {
            value = value.toLocaleString(document.documentElement.lang || 'fr');
        }
        return field.unit ? value + '\u202f' + field.unit : String(value);
    }

    function popupContent(options, properties, id) {
        const root = document.createElement('div');
        root.className = 'maps-popup';
        root.dataset.featureId = id === undefined || id === null ? '' : String(id);
        if (options.popupTitle && properties[options.popupTitle]) {
            const title = document.createElement('p');
            title.className = 'maps-popup__title';
            title.textContent = properties[options.popupTitle];
            root.appendChild(title);
        }
        if (options.popupFields.length) {
            const list = document.createElement('dl');
            options.popupFields.forEach(function (field) {
                const term = document.createElement('dt');
                term.textContent = field.label;
                const value = document.createElement('dd');
                value.textContent = formatValue(options, field, properties[field.name]);
                list.appendChild(term);
                list.appendChild(value);
            });
            root.appendChild(list);
        }
        if (options.link && id !== undefined && id !== null) {
            const link = document.createElement('a');
            link.href = options.link.replace('{id}', encodeURIComponent(id));
            link.textContent = options.text.open;
            root.appendChild(link);
        }
        return root;
    }

    function pointLayer(data, options) {
        const geojson = L.geoJSON(data, {
            attribution: options.attribution,
            pointToLayer: function (feature, latlng) {
                return L.circleMarker(latlng, {
                    radius: options.radius,
                    color: options.colour,
                    weight: options.weight,
                    fillColor: colourOf(options, feature.properties),
                    fillOpacity: options.fillOpacity || 0.9
                });
            },
            onEachFeature: function (feature, layer) {
                layer.bindPopup(function () {
                    return popupContent(options, feature.properties, feature.id);
                });
            }
        });
        if (!options.cluster) {
            return geojson;
        }
        const group = L.markerClusterGroup({
            chunkedLoading: true,
            showCoverageOnHover: false,
            attribution: options.attribution
        });
        group.addLayer(geojson);
        return group;
    }

    function areaLayer(data, options) {
        return L.geoJSON(data, {
            attribution: options.attribution,
            style: function () {
                return {
                    color: options.colour,
                    weight: options.weight,
                    fill: options.fillOpacity > 0,
                    fillColor: options.fillColour || options.colour,
                    fillOpacity: options.fillOpacity
                };
            },
            onEachFeature: function (feature, layer) {
                layer.bindPopup(function () {
                    return popupContent(options, feature.properties, null);
                });
            }
        });
    }

    function classColour(options, value) {
        if (!value) {
            return options.noValueColour;
        }
        for (let i = 0; i < options.breaks.length; i++) {
            if (value <= options.breaks[i]) {
                return options.classColours[i];
            }
        }
        return options.classColours[options.classColours.length - 1];
    }

    function choroplethLayer(data, options) {
        return L.geoJSON(data, {
            attribution: options.attribution,
            style: function (feature) {
                return {
                    color: options.colour,
                    weight: options.weight,
                    fillColor: classColour(options, feature.properties[options.value]),
                    fillOpacity: options.fillOpacity
                };
            },
            onEachFeature: function (feature, layer) {
                layer.bindPopup(function () {
                    return popupContent(options, feature.properties, null);
                });
            }
        });
    }

    /* Vector tiles: buildings (z ≥ 12), clusters (z ≤ 11) and Cartofriches. */
    function clusterRadius(count) {
        return 8 + 5 * Math.log10(Math.max(count, 1));
    }

    let symbolsPatched = false;

    /* Leaflet takes a small circle for a marker and asks its getLatLng() for the
       event's position; VectorGrid's point symbols live in tile pixels and have
       none, so a click on one threw. Without getLatLng, Leaflet reads the mouse. */
    function patchSymbols() {
        if (symbolsPatched || !L.VectorGrid) {
            return;
        }
        const createLayer = L.VectorGrid.prototype._createLayer;
        L.VectorGrid.prototype._createLayer = function (feat, pxPerExtent) {
            const layer = createLayer.call(this, feat, pxPerExtent);
            layer.getLatLng = null;
            return layer;
        };
        symbolsPatched = true;
    }

    function tileOptions(options) {
        patchSymbols();
        const point = function (properties) {
            return {
                radius: options.radius,
                fill: true,
                fillColor: colourOf(options, properties),
                fillOpacity: options.fillOpacity || 0.9,
                color: options.colour,
                weight: options.weight
            };
        };
        const result = {
            // SVG: Leaflet.VectorGrid 1.3's canvas tiles never receive clicks under
            // Leaflet 1.9 (measured in Chromium). Point tiles (z ≥ 12) and cluster
            // tiles (≤ 16 clusters) hold few features, so SVG stays light.
            rendererFactory: L.svg.tile,
            interactive: true,
            attribution: options.attribution,
            maxZoom: 19,
            vectorTileLayerStyles: {
                buildings: point,
                friches: point,
                clusters: function (properties) {
                    return {
                        radius: clusterRadius(properties.count),
                        fill: true,
                        fillColor: properties.vacant ? '#ce0500' : '#000091',
                        fillOpacity: 0.55,
                        color: '#ffffff',
                        weight: 2
                    };
                }
            }
        };
        if (options.minZoom !== null) {
            result.minZoom = options.minZoom;
        }
        return result;
    }

    function clusterContent(options, properties, latlng, map) {
        const root = document.createElement('div');
        root.className = 'maps-popup';
        const count = document.createElement('p');
        count.className = 'maps-popup__title';
        count.textContent = properties.count.toLocaleString() + ' ' + options.text.buildings;
        root.appendChild(count);
        const vacant = document.createElement('p');
        vacant.textContent = options.text.vacant + ' : ' + properties.vacant.toLocaleString();
        root.appendChild(vacant);
        const zoom = document.createElement('button');
        zoom.type = 'button';
        zoom.className = 'fr-btn fr-btn--sm fr-btn--secondary';
        zoom.textContent = options.text.zoomIn;
        zoom.addEventListener('click', function () {
            map.closePopup();
            map.setView(latlng, Math.min(map.getZoom() + 2, 19));
        });
        root.appendChild(zoom);
        return root;
    }

    function bindTiles(layer, options) {
        registerLayer(options.key, layer);
        layer.on('click', function (event) {
            // Else the click goes on to the map, which closes popups on click.
            L.DomEvent.stop(event);
            const properties = event.layer.properties || {};
            const map = layer._map;
            // VectorGrid's symbols live in tile pixels: Leaflet finds no latlng
            // on small points, so read it from the mouse event.
            const latlng = map.mouseEventToLatLng(event.originalEvent);
            const content = properties.count !== undefined
                ? clusterContent(options, properties, latlng, map)
                : popupContent(options, properties, properties.id);
            L.popup().setLatLng(latlng).setContent(content).openOn(map);
        });
    }

    function registerControl(layerControl) {
        control = layerControl;
    }

    function newLayer(update) {
        const options = update.options;
        switch (update.kind) {
        case 'tiles': {
            const layer = L.vectorGrid.protobuf(update.url, tileOptions(options));
            bindTiles(layer, options);
            return layer;
        }
        case 'heatmap':
            return L.heatLayer(update.heat, {
                radius: options.radius,
                blur: 15,
                minOpacity: 0.3,
                max: update.max
            });
        case 'areas':
            return areaLayer(update.data, options);
        case 'choropleth':
            return choroplethLayer(update.data, options);
        default:
            return pointLayer(update.data, options);
        }
    }

    function legendSwatch(colour) {
        const svgNS = 'http://www.w3.org/2000/svg';
        const svg = document.createElementNS(svgNS, 'svg');
        svg.setAttribute('width', '14');
        svg.setAttribute('height', '14');
        svg.setAttribute('aria-hidden', 'true');
        svg.setAttribute('focusable', 'false');
        const circle = document.createElementNS(svgNS, 'circle');
        circle.setAttribute('cx', '7');
        circle.setAttribute('cy', '7');
        circle.setAttribute('r', '6');
        circle.setAttribute('fill', colour);
        circle.setAttribute('stroke', '#3a3a3a');
        circle.setAttribute('stroke-width', '0.5');
        svg.appendChild(circle);
        return svg;
    }

    /* The legend group of a layer, as templates/maps/_map.html writes it. */
    function setLegend(key, name, entries) {
        const legend = document.querySelector('[data-testid=map-legend]');
        if (!legend) {
            return;
        }
        const selector = '.maps-legend__group[data-layer="' + CSS.escape(key) + '"]';
        const previous = legend.querySelector(selector);
        if (!entries || !entries.length) {
            if (previous) {
                previous.remove();
            }
            return;
        }
        const group = document.createElement('div');
        group.className = 'maps-legend__group';
        group.dataset.layer = key;
        const title = document.createElement('p');
        title.className = 'fr-text--sm fr-text--bold fr-mb-1v';
        title.textContent = name;
        group.appendChild(title);
        const list = document.createElement('ul');
        list.className = 'maps-legend__list';
        entries.forEach(function (entry) {
            const item = document.createElement('li');
            item.appendChild(legendSwatch(entry.colour));
            item.appendChild(document.createTextNode(' ' + entry.label));
            list.appendChild(item);
        });
        group.appendChild(list);
        if (previous) {
            legend.replaceChild(group, previous);
        } else {
            // Overlays before the page's own layers, in the order they come.
            const anchor = legend.querySelector(
                '.maps-legend__group[data-layer="friches"], ' +
                '.maps-legend__group[data-layer="buildings"]'
            );
            legend.insertBefore(group, anchor);
        }
    }

    function removeLayer(key) {
        const previous = layers[key];
        if (!previous) {
            return;
        }
        maps[0].removeLayer(previous);
        if (control) {
            control.removeLayer(previous);
        }
        delete layers[key];
        setLegend(key, '', []);
    }

    /* Draws the layer ``key`` of the first map from a layer update
       (maps.render.layer_update), in place of the one of that key if any: in
       the layer control, shown if the layer it replaces was (else as the
       update says), with its legend. */
    function replaceLayer(key, update) {
        const map = maps[0];
        const previous = layers[key];
        const shown = previous ? map.hasLayer(previous) : update.show !== false;
        const layer = newLayer(update);
        if (update.kind !== 'tiles') {
            registerLayer(key, layer);
        }
        if (previous) {
            map.removeLayer(previous);
            if (control) {
                control.removeLayer(previous);
            }
        }
        if (control) {
            control.addOverlay(layer, update.options.name);
        }
        if (shown) {
            layer.addTo(map);
        }
        if (update.legend) {
            setLegend(key, update.options.name, update.legend);
        }
        return layer;
    }

    /* Layers drawn after the page (maps.render.overlay_updates): each replaces
       the one of its key; those of the previous set that are gone are removed. */
    let overlayKeys = [];

    function setOverlays(body) {
        const keys = body.layers.map(function (update) {
            if (update.dataRef) {
                update.data = body.data[update.dataRef];
            }
            replaceLayer(update.options.key, update);
            return update.options.key;
        });
        overlayKeys.forEach(function (key) {
            if (keys.indexOf(key) === -1) {
                removeLayer(key);
            }
        });
        overlayKeys = keys;
        return keys;
    }

    return {
        maps: maps,
        layers: layers,
        register: register,
        registerLayer: registerLayer,
        registerControl: registerControl,
        replaceLayer: replaceLayer,
        removeLayer: removeLayer,
        setOverlays: setOverlays,
        pointLayer: pointLayer,
        areaLayer: areaLayer,
        choroplethLayer: choroplethLayer,
        tileOptions: tileOptions,
        bindTiles: bindTiles
    };
}());
