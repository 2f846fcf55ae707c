// The console map: stores, deal areas and their H3 cells on a plain background with the country outline
// (tiles only when the operator configured a tile server), and on the deal form the drawing of a radius or a
// polygon, which fills in the typed fields (they remain the source of truth and can be typed directly).
(function () {
  "use strict";
  var el = document.getElementById("map");
  if (!el || typeof L === "undefined") { return; }
  var data = JSON.parse(document.getElementById("map-data").textContent);
  var map = L.map(el, { zoomSnap: 0.5, keyboard: true });
  el.setAttribute("role", "region");
  var germany = L.latLngBounds([47.2, 5.8], [55.1, 15.1]);
  map.fitBounds(germany, { animate: false }); // a view first: Leaflet draws vector layers only on a map with one
  if (el.dataset.tiles) {
    L.tileLayer(el.dataset.tiles, { attribution: el.dataset.attribution || "", maxZoom: 19 }).addTo(map);
  }
  fetch("/console/static/germany.geojson").then(function (r) { return r.json(); }).then(function (outline) {
    L.geoJSON(outline, { interactive: false, className: "outline", color: "#6b7b8c", weight: 1, fillColor: "#eef2e6", fillOpacity: 1 })
      .addTo(map).bringToBack();
  });
  var bounds = L.latLngBounds([]);
  var byDeal = {};
  var cells = L.geoJSON({ type: "FeatureCollection", features: data.cells }, {
    interactive: false, className: "h3-cell", color: "#3d5a80", weight: 0.6, fillColor: "#98c1d9", fillOpacity: 0.25
  }).addTo(map);
  var areas = L.geoJSON({ type: "FeatureCollection", features: data.areas }, {
    className: "deal-area", color: "#b5179e", weight: 2, fillOpacity: 0.08,
    style: function (f) { return { dashArray: f.properties.status === "active" ? null : "6 4" }; },
    onEachFeature: function (f, layer) { layer.bindTooltip(f.properties.title); byDeal[f.properties.id] = layer; }
  }).addTo(map);
  data.stores.forEach(function (s) {
    var ll = L.latLng(s.geometry.coordinates[1], s.geometry.coordinates[0]);
    L.circleMarker(ll, { radius: 7, className: "store-marker", color: "#1d3557", weight: 2, fillColor: "#e63946", fillOpacity: 1 })
      .bindTooltip(s.properties.name).addTo(map);
    bounds.extend(ll);
  });
  if (areas.getLayers().length) { bounds.extend(areas.getBounds()); }
  if (cells.getLayers().length) { bounds.extend(cells.getBounds()); }
  // "Show on map" buttons of the deal list: zoom to that deal's area and bring the map into view.
  document.querySelectorAll("button.show-on-map").forEach(function (button) {
    button.addEventListener("click", function () {
      var layer = byDeal[button.dataset.deal];
      if (!layer) { return; }
      map.fitBounds(layer.getBounds().pad(0.3), { animate: false });
      el.scrollIntoView({ block: "start" });
      el.focus();
    });
  });
  if (el.dataset.mode === "draw") {
    drawing(map);
  } else if (bounds.isValid()) {
    map.fitBounds(bounds.pad(0.15), { maxZoom: 15, animate: false });
  }

  function drawing(map) {
    var store = document.getElementById("store_id");
    var radio = { radius: document.getElementById("area_radius"), polygon: document.getElementById("area_polygon") };
    var radius = document.getElementById("radius_m");
    var polygon = document.getElementById("polygon");
    var finish = document.getElementById("draw-finish");
    var status = document.getElementById("draw-status");
    var preview = L.layerGroup().addTo(map);
    var mode = null;
    var corners = [];

    function say(key, value) { status.textContent = (status.dataset[key] || "").replace("{n}", value || ""); }
    function storeLatLng() {
      var option = store.options[store.selectedIndex];
      return option ? L.latLng(parseFloat(option.dataset.lat), parseFloat(option.dataset.lon)) : map.getCenter();
    }
    function showRadius() {
      preview.clearLayers();
      var metres = parseInt(radius.value, 10);
      if (metres > 0) { L.circle(storeLatLng(), { radius: metres, className: "draft-area", color: "#2a9d8f", weight: 2 }).addTo(preview); }
    }
    function showPolygon() {
      preview.clearLayers();
      try {
        var geometry = JSON.parse(polygon.value);
        L.geoJSON(geometry, { className: "draft-area", color: "#2a9d8f", weight: 2 }).addTo(preview);
      } catch (e) { /* not JSON (yet): the server says what is wrong on saving */ }
    }
    function showCorners() {
      preview.clearLayers();
      if (corners.length) { L.polygon(corners, { className: "draft-area", color: "#2a9d8f", weight: 2, dashArray: "4" }).addTo(preview); }
      corners.forEach(function (c) { L.circleMarker(c, { radius: 4, className: "draft-corner", color: "#2a9d8f" }).addTo(preview); });
    }
    function show() { if (radio.polygon.checked) { showPolygon(); } else { showRadius(); } }

    map.setView(storeLatLng(), 14, { animate: false });
    show();
    store.addEventListener("change", function () { map.setView(storeLatLng(), map.getZoom(), { animate: false }); show(); });
    radius.addEventListener("input", function () { radio.radius.checked = true; showRadius(); });
    polygon.addEventListener("change", function () { radio.polygon.checked = true; showPolygon(); });
    radio.radius.addEventListener("change", show);
    radio.polygon.addEventListener("change", show);
    document.getElementById("draw-radius").addEventListener("click", function () {
      mode = "radius"; radio.radius.checked = true; finish.disabled = true; say("radiusHint");
    });
    document.getElementById("draw-polygon").addEventListener("click", function () {
      mode = "polygon"; corners = []; radio.polygon.checked = true; finish.disabled = true; showCorners(); say("polygonHint");
    });
    document.getElementById("draw-clear").addEventListener("click", function () {
      mode = null; corners = []; polygon.value = ""; finish.disabled = true; preview.clearLayers(); say("cleared");
    });
    finish.addEventListener("click", function () {
      if (corners.length < 3) { return; }
      var ring = corners.map(function (c) { return [+c.lng.toFixed(6), +c.lat.toFixed(6)]; });
      ring.push(ring[0]);
      polygon.value = JSON.stringify({ type: "Polygon", coordinates: [ring] });
      mode = null; corners = []; finish.disabled = true; showPolygon(); say("polygonSet", ring.length - 1);
    });
    map.on("click", function (event) {
      if (mode === "radius") {
        var metres = Math.round(map.distance(storeLatLng(), event.latlng));
        metres = Math.max(50, Math.min(50000, metres));
        radius.value = String(metres);
        mode = null; showRadius(); say("radiusSet", metres);
      } else if (mode === "polygon") {
        corners.push(event.latlng);
        finish.disabled = corners.length < 3;
        showCorners(); say("corners", corners.length);
      }
    });
  }
})();
