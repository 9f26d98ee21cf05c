/* 有需必应 · 驾驶舱: draws each chart from the table under it (data-chart, data-targets, data-value),
   with the vendored Apache ECharts (SVG renderer: sharp on screen and in print). Full-screen mode for
   the meeting room; before printing, every data table is opened. Without JS the tables are there. */
(function () {
  "use strict";
  var echarts = window.echarts;
  var root = document.getElementById("cockpit");
  if (!root || !echarts) return;
  var charts = [];
  var palette = ["#1f5fae", "#e07b00", "#1a7f37", "#8e44ad", "#c62828", "#00838f", "#6d4c41", "#546e7a"];

  function read(table) {
    var columns = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
      return th.textContent.trim();
    });
    var rows = [];
    table.querySelectorAll("tbody tr").forEach(function (tr) {
      var head = tr.querySelector("th");
      if (!head) return;
      var values = Array.prototype.map.call(tr.querySelectorAll("td"), function (td) {
        var raw = td.getAttribute("data-value");
        return raw === null || raw === "" ? null : Number(raw);
      });
      rows.push({ label: head.textContent.trim(), values: values });
    });
    var targets = {};
    try { targets = JSON.parse(table.getAttribute("data-targets") || "{}"); } catch (e) { targets = {}; }
    return { columns: columns, rows: rows, targets: targets, unit: table.getAttribute("data-unit") || "" };
  }

  function targetLine(value) {
    return { silent: true, symbol: "none", lineStyle: { type: "dashed", color: "#c62828" },
      label: { formatter: "目标 " + value + "%", position: "insideEndTop" }, data: [{ yAxis: value }] };
  }

  function base() {
    return { color: palette, animation: false, textStyle: { fontSize: 12 },
      tooltip: { trigger: "axis", confine: true },
      legend: { bottom: 0, type: "scroll" },
      grid: { left: 8, right: 16, top: 24, bottom: 36, containLabel: true } };
  }

  function lineOption(data) {
    var option = base();
    option.xAxis = { type: "category", data: data.rows.map(function (r) { return r.label; }) };
    option.yAxis = { type: "value", max: data.unit === "%" ? 100 : null };
    option.series = data.columns.slice(1).map(function (name, i) {
      var series = { name: name, type: "line", connectNulls: false, symbolSize: 6,
        data: data.rows.map(function (r) { return r.values[i]; }) };
      if (data.targets[name] !== undefined) series.markLine = targetLine(data.targets[name]);
      return series;
    });
    return option;
  }

  function pieOption(data) {
    var option = base();
    option.tooltip = { trigger: "item", confine: true, formatter: "{b}：{c} 件（{d}%）" };
    option.series = [{ name: data.columns[1], type: "pie", radius: ["35%", "62%"], center: ["50%", "45%"],
      label: { formatter: "{b}\n{d}%" },
      data: data.rows.map(function (r) { return { name: r.label, value: r.values[0] }; }) }];
    return option;
  }

  function rankOption(data) {
    var option = base();
    var rows = data.rows.slice().reverse(); // the best at the top
    option.legend = { show: false };
    option.yAxis = { type: "category", data: rows.map(function (r) { return r.label; }),
      axisLabel: { width: 110, overflow: "truncate" } };
    option.xAxis = { type: "value", max: 100 };
    var name = data.columns[1];
    var series = { name: name, type: "bar", barMaxWidth: 18, label: { show: true, position: "right", formatter: "{c}%" },
      data: rows.map(function (r) { return r.values[0]; }) };
    if (data.targets[name] !== undefined) {
      series.markLine = { silent: true, symbol: "none", lineStyle: { type: "dashed", color: "#c62828" },
        label: { formatter: "目标 " + data.targets[name] + "%" }, data: [{ xAxis: data.targets[name] }] };
    }
    option.series = [series];
    return option;
  }

  function stackOption(data) {
    var option = base();
    option.xAxis = { type: "category", data: data.rows.map(function (r) { return r.label; }) };
    option.yAxis = { type: "value", minInterval: 1 };
    option.series = data.columns.slice(1).map(function (name, i) {
      return { name: name, type: "bar", stack: "all", barMaxWidth: 36,
        data: data.rows.map(function (r) { return r.values[i]; }) };
    });
    option.color = ["#1f5fae", "#c62828"];
    return option;
  }

  var builders = { line: lineOption, pie: pieOption, hbar: rankOption, stack: stackOption };

  document.querySelectorAll("[data-chart-for]").forEach(function (element) {
    var table = document.getElementById(element.getAttribute("data-chart-for"));
    if (!table) return;
    var build = builders[table.getAttribute("data-chart")] || lineOption;
    var data = read(table);
    if (!data.rows.length) {
      element.classList.add("chart-empty");
      element.textContent = "没有数据";
      return;
    }
    var chart = echarts.init(element, null, { renderer: "svg" });
    chart.setOption(build(data));
    element.setAttribute("data-rendered", "1");
    charts.push(chart);
  });

  function resizeAll() { charts.forEach(function (chart) { chart.resize(); }); }
  window.addEventListener("resize", resizeAll);

  var button = document.getElementById("cockpit-fullscreen");
  if (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var on = !root.classList.contains("bigscreen");
      root.classList.toggle("bigscreen", on);
      button.textContent = on ? "退出全屏" : "全屏";
      if (on && root.requestFullscreen) {
        root.requestFullscreen().catch(function () { /* the class alone still enlarges */ });
      } else if (!on && document.fullscreenElement && document.exitFullscreen) {
        document.exitFullscreen();
      }
      setTimeout(resizeAll, 50);
    });
    document.addEventListener("fullscreenchange", function () {
      if (!document.fullscreenElement && root.classList.contains("bigscreen")) {
        root.classList.remove("bigscreen");
        button.textContent = "全屏";
      }
      setTimeout(resizeAll, 50);
    });
  }

  var opened = [];
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details.chart-data:not([open])").forEach(function (d) { d.open = true; opened.push(d); });
    resizeAll();
  });
  window.addEventListener("afterprint", function () {
    opened.forEach(function (d) { d.open = false; });
    opened = [];
    resizeAll();
  });
})();
