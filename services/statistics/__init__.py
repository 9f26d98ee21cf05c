"""Statistics (统计与通报): the KPIs of every level, as the district document defines them.

``kpis`` computes 受理, 办结, 响应率, 按时办结率, 解决率, 满意率, 回访率, 退单率, 超期, 积压, 督办 and
average handling time per zone, department, ladder level and request domain, for a period in Beijing
time and within the viewer's scope; every ratio keeps its numerator and denominator (docs/statistics.md).
"""
