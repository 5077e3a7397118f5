/* global ol, MapWidget */
/* Starts Django's MapWidget (gis/js/OLMapWidget.js) for each map of the admin forms.
   Options come from a data attribute because the CSP refuses inline scripts, and
   the base layer is the configured basemap (BASEMAP_URL), never OpenStreetMap's
   servers. */
'use strict';
document.addEventListener('DOMContentLoaded', function () {
    document.querySelectorAll('[data-map-options]').forEach(function (element) {
        const options = JSON.parse(element.dataset.mapOptions);
        options.base_layer = new ol.layer.Tile({
            source: new ol.source.XYZ({
                url: options.basemap_url,
                attributions: options.basemap_attribution
            })
        });
        element.mapWidget = new MapWidget(options);
    });
});
