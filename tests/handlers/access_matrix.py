"""Who gets what from each route (see test_access_matrix.py); reviewed like code."""

EXPECTED = {'GET admin.audit': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                               'helper_other deptleader deptleader_other',
                     'login': 'anon',
                     'ok': 'admin'},
 'GET admin.department_edit': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                         'helper helper_other deptleader deptleader_other',
                               'login': 'anon',
                               'ok': 'admin'},
 'GET admin.departments': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                     'helper_other deptleader deptleader_other',
                           'login': 'anon',
                           'ok': 'admin'},
 'GET admin.holidays': {'denied': 'bizenv leader staff staff_other zoneadmin zoneadmin_other helper helper_other '
                                  'deptleader deptleader_other',
                        'login': 'anon',
                        'ok': 'admin dispatcher'},
 'GET admin.inbound': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                 'helper_other deptleader deptleader_other',
                       'login': 'anon',
                       'ok': 'admin'},
 'GET admin.index': {'denied': 'bizenv leader staff staff_other zoneadmin zoneadmin_other helper helper_other '
                               'deptleader deptleader_other',
                     'login': 'anon',
                     'ok': 'admin dispatcher'},
 'GET admin.outbox': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                'helper_other deptleader deptleader_other',
                      'login': 'anon',
                      'ok': 'admin'},
 'GET admin.people': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                'helper_other deptleader deptleader_other',
                      'login': 'anon',
                      'ok': 'admin'},
 'GET admin.person_edit': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                     'helper_other deptleader deptleader_other',
                           'login': 'anon',
                           'ok': 'admin'},
 'GET admin.person_new': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                    'helper_other deptleader deptleader_other',
                          'login': 'anon',
                          'ok': 'admin'},
 'GET admin.screening_edit': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                        'helper_other deptleader deptleader_other',
                              'hidden': 'admin',
                              'login': 'anon'},
 'GET admin.screening_new': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                       'helper_other deptleader deptleader_other',
                             'login': 'anon',
                             'ok': 'admin'},
 'GET admin.screening_rules': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                         'helper helper_other deptleader deptleader_other',
                               'login': 'anon',
                               'ok': 'admin'},
 'GET admin.settings_page': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                       'helper_other deptleader deptleader_other',
                             'login': 'anon',
                             'ok': 'admin'},
 'GET admin.sla_edit': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                  'helper_other deptleader deptleader_other',
                        'login': 'anon',
                        'ok': 'admin'},
 'GET admin.sla_new': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                 'helper_other deptleader deptleader_other',
                       'login': 'anon',
                       'ok': 'admin'},
 'GET admin.sla_policies': {'denied': 'bizenv leader staff staff_other zoneadmin zoneadmin_other helper helper_other '
                                      'deptleader deptleader_other',
                            'login': 'anon',
                            'ok': 'admin dispatcher'},
 'GET admin.sms_opt_outs': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                      'helper_other deptleader deptleader_other',
                            'login': 'anon',
                            'ok': 'admin'},
 'GET admin.zones': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                               'helper_other deptleader deptleader_other',
                     'login': 'anon',
                     'ok': 'admin'},
 'GET api.list_orders': {'denied': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                   'helper helper_other deptleader deptleader_other'},
 'GET api.openapi_document': {'ok': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                    'helper helper_other deptleader deptleader_other'},
 'GET api.order_detail_view': {'denied': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin '
                                         'zoneadmin_other helper helper_other deptleader deptleader_other'},
 'GET api.reference': {'denied': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                 'helper helper_other deptleader deptleader_other'},
 'GET api.statistics_report': {'denied': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin '
                                         'zoneadmin_other helper helper_other deptleader deptleader_other'},
 'GET console.attachment': {'hidden': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                      'helper helper_other deptleader deptleader_other',
                            'login': 'anon'},
 'GET console.board': {'denied': 'leader staff staff_other zoneadmin zoneadmin_other helper helper_other deptleader '
                                 'deptleader_other',
                       'login': 'anon',
                       'ok': 'admin dispatcher bizenv'},
 'GET console.desk_caller': {'denied': 'bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                       'helper_other deptleader deptleader_other',
                             'login': 'anon',
                             'ok': 'admin dispatcher'},
 'GET console.desk_page': {'denied': 'bizenv leader staff staff_other zoneadmin zoneadmin_other helper helper_other '
                                     'deptleader deptleader_other',
                           'login': 'anon',
                           'ok': 'admin dispatcher'},
 'GET console.enterprise_search': {'login': 'anon',
                                   'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                         'helper helper_other deptleader deptleader_other'},
 'GET console.home': {'login': 'anon',
                      'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                            'helper_other deptleader deptleader_other'},
 'GET console.hotline_ledger': {'denied': 'leader staff staff_other zoneadmin zoneadmin_other helper helper_other '
                                          'deptleader deptleader_other',
                                'login': 'anon',
                                'ok': 'admin dispatcher bizenv'},
 'GET console.login': {'ok': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                             'helper_other deptleader deptleader_other'},
 'GET console.new_order': {'denied': 'bizenv leader helper helper_other deptleader deptleader_other',
                           'login': 'anon',
                           'ok': 'admin dispatcher staff staff_other zoneadmin zoneadmin_other'},
 'GET console.order_detail': {'denied': 'staff_other zoneadmin_other helper_other deptleader_other',
                              'login': 'anon',
                              'ok': 'admin dispatcher bizenv leader staff zoneadmin helper deptleader'},
 'GET console.orders': {'login': 'anon',
                        'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                              'helper_other deptleader deptleader_other'},
 'GET console.sandbox': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                   'helper_other deptleader deptleader_other',
                         'login': 'anon',
                         'ok': 'admin'},
 'GET console.sandbox_messages': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                            'helper helper_other deptleader deptleader_other',
                                  'hidden': 'admin',
                                  'login': 'anon'},
 'GET grid.contacts': {'login': 'anon',
                       'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                             'helper_other deptleader deptleader_other'},
 'GET grid.contacts_xlsx': {'login': 'anon',
                            'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                  'helper_other deptleader deptleader_other'},
 'GET grid.export_enterprises': {'denied': 'helper helper_other deptleader deptleader_other',
                                 'login': 'anon',
                                 'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other'},
 'GET grid.export_orders': {'login': 'anon',
                            'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                  'helper_other deptleader deptleader_other'},
 'GET grid.index': {'login': 'anon',
                    'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                          'helper_other deptleader deptleader_other'},
 'GET grid.leave': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin_other helper helper_other '
                              'deptleader deptleader_other',
                    'login': 'anon',
                    'ok': 'admin zoneadmin'},
 'GET grid.people': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                               'helper_other deptleader deptleader_other',
                     'login': 'anon',
                     'ok': 'admin'},
 'GET grid.people_export': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                      'helper_other deptleader deptleader_other',
                            'login': 'anon',
                            'ok': 'admin'},
 'GET grid.people_job': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                   'helper_other deptleader deptleader_other',
                         'hidden': 'admin',
                         'login': 'anon'},
 'GET grid.people_job_errors': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                          'helper helper_other deptleader deptleader_other',
                                'hidden': 'admin',
                                'login': 'anon'},
 'GET grid.people_template': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                        'helper_other deptleader deptleader_other',
                              'login': 'anon',
                              'ok': 'admin'},
 'GET grid.poster_staff': {'denied': 'bizenv leader staff_other zoneadmin_other helper helper_other deptleader '
                                     'deptleader_other',
                           'login': 'anon',
                           'ok': 'admin dispatcher staff zoneadmin'},
 'GET grid.poster_zone': {'denied': 'bizenv leader staff_other zoneadmin_other helper helper_other deptleader '
                                    'deptleader_other',
                          'login': 'anon',
                          'ok': 'admin dispatcher staff zoneadmin'},
 'GET grid.posters': {'denied': 'bizenv leader helper helper_other deptleader deptleader_other',
                      'login': 'anon',
                      'ok': 'admin dispatcher staff staff_other zoneadmin zoneadmin_other'},
 'GET grid.qr': {'denied': 'bizenv leader helper helper_other deptleader deptleader_other',
                 'hidden': 'admin dispatcher staff staff_other zoneadmin zoneadmin_other',
                 'login': 'anon'},
 'GET grid.requests_pending': {'login': 'anon',
                               'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                     'helper helper_other deptleader deptleader_other'},
 'GET grid.rules': {'denied': 'dispatcher bizenv leader staff staff_other helper helper_other deptleader '
                              'deptleader_other',
                    'login': 'anon',
                    'ok': 'admin zoneadmin zoneadmin_other'},
 'GET grid.unassigned': {'denied': 'bizenv leader staff staff_other helper helper_other deptleader deptleader_other',
                         'login': 'anon',
                         'ok': 'admin dispatcher zoneadmin zoneadmin_other'},
 'GET grid.zone_staff': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin_other helper helper_other '
                                   'deptleader deptleader_other',
                         'login': 'anon',
                         'ok': 'admin zoneadmin'},
 'GET grid.zones': {'denied': 'dispatcher bizenv leader staff staff_other helper helper_other deptleader '
                              'deptleader_other',
                    'login': 'anon',
                    'ok': 'admin zoneadmin zoneadmin_other'},
 'GET health.healthz': {'ok': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                              'helper helper_other deptleader deptleader_other'},
 'GET health.metrics': {'ok': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                              'helper helper_other deptleader deptleader_other'},
 'GET health.readyz': {'ok': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                             'helper_other deptleader deptleader_other'},
 'GET hotline.ticket_status': {'untested': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin '
                                           'zoneadmin_other helper helper_other deptleader deptleader_other'},
 'GET knowledge.case': {'login': 'anon',
                        'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                              'helper_other deptleader deptleader_other'},
 'GET knowledge.case_edit': {'denied': 'dispatcher leader staff staff_other zoneadmin zoneadmin_other helper '
                                       'helper_other deptleader deptleader_other',
                             'login': 'anon',
                             'ok': 'admin bizenv'},
 'GET knowledge.case_list': {'login': 'anon',
                             'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                   'helper helper_other deptleader deptleader_other'},
 'GET knowledge.case_new': {'hidden': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                      'helper helper_other deptleader deptleader_other',
                            'login': 'anon'},
 'GET knowledge.entry': {'login': 'anon',
                         'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                               'helper_other deptleader deptleader_other'},
 'GET knowledge.entry_edit': {'denied': 'dispatcher leader staff staff_other zoneadmin zoneadmin_other helper '
                                        'helper_other deptleader deptleader_other',
                              'login': 'anon',
                              'ok': 'admin bizenv'},
 'GET knowledge.entry_new': {'denied': 'leader staff staff_other zoneadmin zoneadmin_other',
                             'login': 'anon',
                             'ok': 'admin dispatcher bizenv helper helper_other deptleader deptleader_other'},
 'GET knowledge.handbook': {'login': 'anon',
                            'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                  'helper_other deptleader deptleader_other'},
 'GET knowledge.handbook_print': {'login': 'anon',
                                  'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                        'helper helper_other deptleader deptleader_other'},
 'GET knowledge.handbook_xlsx': {'login': 'anon',
                                 'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                       'helper helper_other deptleader deptleader_other'},
 'GET knowledge.index': {'login': 'anon',
                         'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                               'helper_other deptleader deptleader_other'},
 'GET knowledge.similar': {'login': 'anon',
                           'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                 'helper_other deptleader deptleader_other'},
 'GET knowledge.topic': {'denied': 'dispatcher leader staff staff_other zoneadmin zoneadmin_other helper '
                                   'helper_other deptleader deptleader_other',
                         'login': 'anon',
                         'ok': 'admin bizenv'},
 'GET mobile.attachment': {'hidden': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                     'helper helper_other deptleader deptleader_other',
                           'ok': 'anon'},
 'GET mobile.dingtalk_jsapi': {'hidden': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                         'helper helper_other deptleader deptleader_other',
                               'ok': 'anon'},
 'GET mobile.home': {'ok': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                           'helper_other deptleader deptleader_other'},
 'GET mobile.new_order': {'denied': 'bizenv leader helper helper_other deptleader deptleader_other',
                          'ok': 'anon admin dispatcher staff staff_other zoneadmin zoneadmin_other'},
 'GET mobile.order_detail': {'denied': 'staff_other zoneadmin_other helper_other deptleader_other',
                             'ok': 'anon admin dispatcher bizenv leader staff zoneadmin helper deptleader'},
 'GET mobile.orders': {'ok': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                             'helper_other deptleader deptleader_other'},
 'GET mobile.policy_digest': {'ok': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                    'helper helper_other deptleader deptleader_other'},
 'GET mobile.policy_digest_link': {'ok': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin '
                                         'zoneadmin_other helper helper_other deptleader deptleader_other'},
 'GET mobile.survey': {'denied': 'bizenv leader staff_other zoneadmin_other helper helper_other deptleader '
                                 'deptleader_other',
                       'ok': 'anon admin dispatcher staff zoneadmin'},
 'GET mobile.training_digest': {'ok': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin '
                                      'zoneadmin_other helper helper_other deptleader deptleader_other'},
 'GET mobile.unregistered': {'ok': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                   'helper helper_other deptleader deptleader_other'},
 'GET mobile.wecom_callback': {'hidden': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin '
                                         'zoneadmin_other helper helper_other deptleader deptleader_other'},
 'GET mobile.wecom_jsapi': {'hidden': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                      'helper helper_other deptleader deptleader_other',
                            'ok': 'anon'},
 'GET policies.campaign': {'login': 'anon',
                           'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                 'helper_other deptleader deptleader_other'},
 'GET policies.campaign_new': {'hidden': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                         'helper helper_other deptleader deptleader_other',
                               'login': 'anon'},
 'GET policies.campaign_progress': {'login': 'anon',
                                    'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin '
                                          'zoneadmin_other helper helper_other deptleader deptleader_other'},
 'GET policies.campaigns': {'login': 'anon',
                            'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                  'helper_other deptleader deptleader_other'},
 'GET policies.import_errors': {'hidden': 'admin dispatcher bizenv leader staff staff_other zoneadmin '
                                          'zoneadmin_other helper helper_other deptleader deptleader_other',
                                'login': 'anon'},
 'GET policies.import_job': {'hidden': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                       'helper helper_other deptleader deptleader_other',
                             'login': 'anon'},
 'GET policies.import_page': {'login': 'anon',
                              'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                    'helper helper_other deptleader deptleader_other'},
 'GET policies.import_template': {'login': 'anon',
                                  'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                        'helper helper_other deptleader deptleader_other'},
 'GET policies.index': {'login': 'anon',
                        'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                              'helper_other deptleader deptleader_other'},
 'GET policies.item_edit': {'denied': 'dispatcher leader staff staff_other zoneadmin zoneadmin_other helper '
                                      'helper_other deptleader deptleader_other',
                            'login': 'anon',
                            'ok': 'admin bizenv'},
 'GET policies.item_new': {'denied': 'dispatcher leader staff staff_other zoneadmin zoneadmin_other helper '
                                     'helper_other deptleader deptleader_other',
                           'login': 'anon',
                           'ok': 'admin bizenv'},
 'GET policies.item_preview': {'login': 'anon',
                               'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                     'helper helper_other deptleader deptleader_other'},
 'GET policies.policy': {'login': 'anon',
                         'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                               'helper_other deptleader deptleader_other'},
 'GET policies.policy_attachment': {'hidden': 'admin dispatcher bizenv leader staff staff_other zoneadmin '
                                              'zoneadmin_other helper helper_other deptleader deptleader_other',
                                    'login': 'anon'},
 'GET policies.policy_edit': {'denied': 'dispatcher leader staff staff_other zoneadmin zoneadmin_other helper '
                                        'helper_other deptleader deptleader_other',
                              'login': 'anon',
                              'ok': 'admin bizenv'},
 'GET policies.policy_new': {'denied': 'dispatcher leader staff staff_other zoneadmin zoneadmin_other',
                             'login': 'anon',
                             'ok': 'admin bizenv helper helper_other deptleader deptleader_other'},
 'GET policies.questions': {'login': 'anon',
                            'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                  'helper_other deptleader deptleader_other'},
 'GET policies.training': {'login': 'anon',
                           'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                 'helper_other deptleader deptleader_other'},
 'GET policies.training_edit': {'denied': 'dispatcher leader staff staff_other zoneadmin zoneadmin_other '
                                          'helper_other deptleader_other',
                                'login': 'anon',
                                'ok': 'admin bizenv helper deptleader'},
 'GET policies.training_new': {'denied': 'dispatcher leader staff staff_other zoneadmin zoneadmin_other',
                               'login': 'anon',
                               'ok': 'admin bizenv helper helper_other deptleader deptleader_other'},
 'GET policies.trainings': {'login': 'anon',
                            'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                  'helper_other deptleader deptleader_other'},
 'GET policies.uptake': {'login': 'anon',
                         'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                               'helper_other deptleader deptleader_other'},
 'GET public.contact': {'ok': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                              'helper helper_other deptleader deptleader_other'},
 'GET public.contact_request': {'ok': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin '
                                      'zoneadmin_other helper helper_other deptleader deptleader_other'},
 'GET public.policy_page_view': {'ok': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin '
                                       'zoneadmin_other helper helper_other deptleader deptleader_other'},
 'GET public.public_case': {'ok': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                  'helper helper_other deptleader deptleader_other'},
 'GET public.public_cases': {'ok': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                   'helper helper_other deptleader deptleader_other'},
 'GET public.public_faq': {'ok': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                 'helper helper_other deptleader deptleader_other'},
 'GET public.survey': {'hidden': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                 'helper helper_other deptleader deptleader_other'},
 'GET public.track': {'ok': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                            'helper_other deptleader deptleader_other'},
 'GET registry.census': {'denied': 'bizenv staff staff_other helper helper_other deptleader deptleader_other',
                         'login': 'anon',
                         'ok': 'admin dispatcher leader zoneadmin zoneadmin_other'},
 'GET registry.enterprise': {'denied': 'bizenv leader staff staff_other zoneadmin_other helper helper_other '
                                       'deptleader deptleader_other',
                             'login': 'anon',
                             'ok': 'admin dispatcher zoneadmin'},
 'GET registry.enterprises': {'denied': 'bizenv leader staff staff_other helper helper_other deptleader '
                                        'deptleader_other',
                              'login': 'anon',
                              'ok': 'admin dispatcher zoneadmin zoneadmin_other'},
 'GET registry.import_errors': {'denied': 'bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                          'helper_other deptleader deptleader_other',
                                'hidden': 'admin dispatcher',
                                'login': 'anon'},
 'GET registry.import_job': {'denied': 'bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                       'helper_other deptleader deptleader_other',
                             'hidden': 'admin dispatcher',
                             'login': 'anon'},
 'GET registry.import_status': {'denied': 'bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                          'helper_other deptleader deptleader_other',
                                'hidden': 'admin dispatcher',
                                'login': 'anon'},
 'GET registry.import_template': {'denied': 'bizenv leader staff staff_other helper helper_other deptleader '
                                            'deptleader_other',
                                  'login': 'anon',
                                  'ok': 'admin dispatcher zoneadmin zoneadmin_other'},
 'GET registry.imports': {'denied': 'bizenv leader staff staff_other zoneadmin zoneadmin_other helper helper_other '
                                    'deptleader deptleader_other',
                          'login': 'anon',
                          'ok': 'admin dispatcher'},
 'GET registry.index': {'denied': 'bizenv leader staff staff_other helper helper_other deptleader deptleader_other',
                        'login': 'anon',
                        'ok': 'admin dispatcher zoneadmin zoneadmin_other'},
 'GET site.favicon': {'ok': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                            'helper_other deptleader deptleader_other'},
 'GET statistics.bulletin': {'denied': 'staff staff_other zoneadmin zoneadmin_other helper helper_other deptleader '
                                       'deptleader_other',
                             'login': 'anon',
                             'ok': 'admin dispatcher bizenv leader'},
 'GET statistics.bulletin_chart': {'denied': 'staff staff_other zoneadmin zoneadmin_other helper helper_other '
                                             'deptleader deptleader_other',
                                   'hidden': 'admin dispatcher bizenv leader',
                                   'login': 'anon'},
 'GET statistics.bulletin_xlsx': {'denied': 'staff staff_other zoneadmin zoneadmin_other helper helper_other '
                                            'deptleader deptleader_other',
                                  'hidden': 'admin dispatcher bizenv leader',
                                  'login': 'anon'},
 'GET statistics.cockpit_view': {'login': 'anon',
                                 'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                       'helper helper_other deptleader deptleader_other'},
 'GET statistics.export': {'login': 'anon',
                           'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                 'helper_other deptleader deptleader_other'},
 'GET statistics.index': {'login': 'anon',
                          'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                'helper_other deptleader deptleader_other'},
 'GET studio.aliases': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                  'helper_other deptleader deptleader_other',
                        'login': 'anon',
                        'ok': 'admin'},
 'GET studio.dispatch_export': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                          'helper helper_other deptleader deptleader_other',
                                'login': 'anon',
                                'ok': 'admin'},
 'GET studio.dispatch_rule_edit': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                             'helper helper_other deptleader deptleader_other',
                                   'login': 'anon',
                                   'ok': 'admin'},
 'GET studio.dispatch_rules': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                         'helper helper_other deptleader deptleader_other',
                               'login': 'anon',
                               'ok': 'admin'},
 'GET studio.export_yaml': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                      'helper_other deptleader deptleader_other',
                            'login': 'anon',
                            'ok': 'admin'},
 'GET studio.forms': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                'helper_other deptleader deptleader_other',
                      'login': 'anon',
                      'ok': 'admin'},
 'GET studio.index': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                'helper_other deptleader deptleader_other',
                      'login': 'anon',
                      'ok': 'admin'},
 'GET studio.lists': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                'helper_other deptleader deptleader_other',
                      'login': 'anon',
                      'ok': 'admin'},
 'GET studio.template_edit': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                        'helper_other deptleader deptleader_other',
                              'login': 'anon',
                              'ok': 'admin'},
 'GET studio.templates_index': {'denied': 'dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                          'helper helper_other deptleader deptleader_other',
                                'login': 'anon',
                                'ok': 'admin'},
 'GET wecom.aibot': {'hidden': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                               'helper helper_other deptleader deptleader_other'},
 'GET wecom.callback': {'hidden': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                  'helper helper_other deptleader deptleader_other'},
 'POST admin.chat_conversation_settle': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin '
                                                   'zoneadmin_other helper helper_other deptleader deptleader_other',
                                         'ok': 'admin'},
 'POST admin.chat_group_save': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                          'helper helper_other deptleader deptleader_other',
                                'ok': 'admin'},
 'POST admin.department_update': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin '
                                            'zoneadmin_other helper helper_other deptleader deptleader_other',
                                  'ok': 'admin'},
 'POST admin.holiday_add': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                      'helper helper_other deptleader deptleader_other',
                            'ok': 'admin'},
 'POST admin.holiday_delete': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                         'helper helper_other deptleader deptleader_other',
                               'hidden': 'admin'},
 'POST admin.holiday_notice_confirm': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin '
                                                 'zoneadmin_other helper helper_other deptleader deptleader_other',
                                       'ok': 'admin'},
 'POST admin.holiday_notice_preview': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin '
                                                 'zoneadmin_other helper helper_other deptleader deptleader_other',
                                       'ok': 'admin'},
 'POST admin.inbound_retry': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                        'helper helper_other deptleader deptleader_other',
                              'hidden': 'admin'},
 'POST admin.outbox_retry': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                       'helper helper_other deptleader deptleader_other',
                             'ok': 'admin'},
 'POST admin.person_create': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                        'helper helper_other deptleader deptleader_other',
                              'ok': 'admin'},
 'POST admin.person_deactivate': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin '
                                            'zoneadmin_other helper helper_other deptleader deptleader_other',
                                  'ok': 'admin'},
 'POST admin.person_login': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                       'helper helper_other deptleader deptleader_other',
                             'ok': 'admin'},
 'POST admin.person_update': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                        'helper helper_other deptleader deptleader_other',
                              'ok': 'admin'},
 'POST admin.screening_create': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin '
                                           'zoneadmin_other helper helper_other deptleader deptleader_other',
                                 'ok': 'admin'},
 'POST admin.screening_try': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                        'helper helper_other deptleader deptleader_other',
                              'ok': 'admin'},
 'POST admin.screening_update': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin '
                                           'zoneadmin_other helper helper_other deptleader deptleader_other',
                                 'hidden': 'admin'},
 'POST admin.settings_update': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                          'helper helper_other deptleader deptleader_other',
                                'ok': 'admin'},
 'POST admin.sla_create': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                     'helper helper_other deptleader deptleader_other',
                           'ok': 'admin'},
 'POST admin.sla_delete': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                     'helper helper_other deptleader deptleader_other',
                           'ok': 'admin'},
 'POST admin.sla_update': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                     'helper helper_other deptleader deptleader_other',
                           'ok': 'admin'},
 'POST admin.sms_opt_out_add': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                          'helper helper_other deptleader deptleader_other',
                                'ok': 'admin'},
 'POST admin.sms_opt_out_remove': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin '
                                             'zoneadmin_other helper helper_other deptleader deptleader_other',
                                   'ok': 'admin'},
 'POST admin.unit_create': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                      'helper helper_other deptleader deptleader_other',
                            'ok': 'admin'},
 'POST admin.zone_update': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                      'helper helper_other deptleader deptleader_other',
                            'ok': 'admin'},
 'POST api.create_order': {'denied': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin '
                                     'zoneadmin_other helper helper_other deptleader deptleader_other'},
 'POST api.transition': {'denied': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                   'helper helper_other deptleader deptleader_other'},
 'POST console.desk_submit': {'denied': 'anon bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                        'helper_other deptleader deptleader_other',
                              'ok': 'admin dispatcher'},
 'POST console.new_order': {'denied': 'anon bizenv leader helper helper_other deptleader deptleader_other',
                            'ok': 'admin dispatcher staff staff_other zoneadmin zoneadmin_other'},
 'POST console.order_action': {'denied': 'anon bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                         'helper_other deptleader_other',
                               'ok': 'admin dispatcher helper deptleader'},
 'POST console.sandbox_button': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin '
                                           'zoneadmin_other helper helper_other deptleader deptleader_other',
                                 'hidden': 'admin'},
 'POST console.sandbox_deliver': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin '
                                            'zoneadmin_other helper helper_other deptleader deptleader_other',
                                  'ok': 'admin'},
 'POST console.sandbox_send': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                         'helper helper_other deptleader deptleader_other',
                               'hidden': 'admin'},
 'POST dingtalk.events': {'hidden': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                    'helper helper_other deptleader deptleader_other'},
 'POST dingtalk.robot': {'hidden': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                   'helper helper_other deptleader deptleader_other'},
 'POST grid.leave_submit': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin_other helper '
                                      'helper_other deptleader deptleader_other',
                            'ok': 'admin zoneadmin'},
 'POST grid.people_confirm': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                        'helper helper_other deptleader deptleader_other',
                              'hidden': 'admin'},
 'POST grid.people_upload': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                       'helper helper_other deptleader deptleader_other',
                             'ok': 'admin'},
 'POST grid.request_confirm': {'denied': 'anon',
                               'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                     'helper helper_other deptleader deptleader_other'},
 'POST grid.rule_create': {'denied': 'anon dispatcher bizenv leader staff staff_other helper helper_other deptleader '
                                     'deptleader_other',
                           'ok': 'admin zoneadmin zoneadmin_other'},
 'POST grid.rule_update': {'denied': 'anon dispatcher bizenv leader staff staff_other helper helper_other deptleader '
                                     'deptleader_other',
                           'hidden': 'admin zoneadmin zoneadmin_other'},
 'POST grid.staff_rule_create': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin_other helper '
                                           'helper_other deptleader deptleader_other',
                                 'ok': 'admin zoneadmin'},
 'POST grid.staff_rule_update': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin_other helper '
                                           'helper_other deptleader deptleader_other',
                                 'hidden': 'admin zoneadmin'},
 'POST grid.unassigned_assign': {'denied': 'anon bizenv leader staff staff_other helper helper_other deptleader '
                                           'deptleader_other',
                                 'hidden': 'admin dispatcher zoneadmin zoneadmin_other'},
 'POST grid.unassigned_rematch': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin '
                                            'zoneadmin_other helper helper_other deptleader deptleader_other',
                                  'ok': 'admin'},
 'POST grid.zone_assign': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin_other helper '
                                     'helper_other deptleader deptleader_other',
                           'ok': 'admin zoneadmin'},
 'POST grid.zone_fill': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin_other helper '
                                   'helper_other deptleader deptleader_other',
                         'ok': 'admin zoneadmin'},
 'POST hotline.receive_ticket': {'denied': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin '
                                           'zoneadmin_other helper helper_other deptleader deptleader_other'},
 'POST knowledge.case_create': {'denied': 'anon',
                                'hidden': 'admin dispatcher bizenv leader staff staff_other zoneadmin '
                                          'zoneadmin_other helper helper_other deptleader deptleader_other'},
 'POST knowledge.case_transition': {'denied': 'anon',
                                    'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin '
                                          'zoneadmin_other helper helper_other deptleader deptleader_other'},
 'POST knowledge.case_update': {'denied': 'anon dispatcher leader staff staff_other zoneadmin zoneadmin_other helper '
                                          'helper_other deptleader deptleader_other',
                                'ok': 'admin bizenv'},
 'POST knowledge.entry_create': {'denied': 'anon leader staff staff_other zoneadmin zoneadmin_other',
                                 'ok': 'admin dispatcher bizenv helper helper_other deptleader deptleader_other'},
 'POST knowledge.entry_transition': {'denied': 'anon',
                                     'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin '
                                           'zoneadmin_other helper helper_other deptleader deptleader_other'},
 'POST knowledge.entry_update': {'denied': 'anon dispatcher leader staff staff_other zoneadmin zoneadmin_other '
                                           'helper helper_other deptleader deptleader_other',
                                 'ok': 'admin bizenv'},
 'POST knowledge.topic_review': {'denied': 'anon dispatcher leader staff staff_other zoneadmin zoneadmin_other '
                                           'helper helper_other deptleader deptleader_other',
                                 'ok': 'admin bizenv'},
 'POST mobile.dingtalk_sign_in': {'hidden': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin '
                                            'zoneadmin_other helper helper_other deptleader deptleader_other'},
 'POST mobile.new_order': {'denied': 'anon bizenv leader helper helper_other deptleader deptleader_other',
                           'ok': 'admin dispatcher staff staff_other zoneadmin zoneadmin_other'},
 'POST mobile.order_action': {'denied': 'anon bizenv leader staff staff_other zoneadmin zoneadmin_other helper_other '
                                        'deptleader_other',
                              'ok': 'admin dispatcher helper deptleader'},
 'POST mobile.policy_push_applied': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin_other '
                                               'helper helper_other deptleader deptleader_other',
                                     'ok': 'admin zoneadmin'},
 'POST mobile.training_register': {'denied': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin '
                                             'zoneadmin_other helper helper_other deptleader deptleader_other'},
 'POST policies.campaign_action': {'denied': 'anon',
                                   'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                         'helper helper_other deptleader deptleader_other'},
 'POST policies.campaign_create': {'denied': 'anon',
                                   'hidden': 'admin dispatcher bizenv leader staff staff_other zoneadmin '
                                             'zoneadmin_other helper helper_other deptleader deptleader_other'},
 'POST policies.import_upload': {'denied': 'anon dispatcher leader staff staff_other zoneadmin zoneadmin_other',
                                 'ok': 'admin bizenv helper helper_other deptleader deptleader_other'},
 'POST policies.item_action': {'denied': 'anon dispatcher leader staff staff_other zoneadmin zoneadmin_other helper '
                                         'helper_other deptleader deptleader_other',
                               'ok': 'admin bizenv'},
 'POST policies.item_create': {'denied': 'anon dispatcher leader staff staff_other zoneadmin zoneadmin_other helper '
                                         'helper_other deptleader deptleader_other',
                               'ok': 'admin bizenv'},
 'POST policies.item_update': {'denied': 'anon dispatcher leader staff staff_other zoneadmin zoneadmin_other helper '
                                         'helper_other deptleader deptleader_other',
                               'ok': 'admin bizenv'},
 'POST policies.policy_attach': {'denied': 'anon dispatcher leader staff staff_other zoneadmin zoneadmin_other '
                                           'helper helper_other deptleader deptleader_other',
                                 'ok': 'admin bizenv'},
 'POST policies.policy_attachment_remove': {'denied': 'anon dispatcher leader staff staff_other zoneadmin '
                                                      'zoneadmin_other helper helper_other deptleader '
                                                      'deptleader_other',
                                            'hidden': 'admin bizenv'},
 'POST policies.policy_create': {'denied': 'anon dispatcher leader staff staff_other zoneadmin zoneadmin_other',
                                 'ok': 'admin bizenv helper helper_other deptleader deptleader_other'},
 'POST policies.policy_transition': {'denied': 'anon',
                                     'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin '
                                           'zoneadmin_other helper helper_other deptleader deptleader_other'},
 'POST policies.policy_update': {'denied': 'anon dispatcher leader staff staff_other zoneadmin zoneadmin_other '
                                           'helper helper_other deptleader deptleader_other',
                                 'ok': 'admin bizenv'},
 'POST policies.push_mark': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin_other helper '
                                       'helper_other deptleader deptleader_other',
                             'ok': 'admin zoneadmin'},
 'POST policies.question_answer': {'denied': 'anon dispatcher leader staff staff_other zoneadmin zoneadmin_other '
                                             'helper_other deptleader_other',
                                   'ok': 'admin bizenv helper deptleader'},
 'POST policies.question_publish': {'denied': 'anon dispatcher leader staff staff_other zoneadmin zoneadmin_other '
                                              'helper_other deptleader_other',
                                    'ok': 'admin bizenv helper deptleader'},
 'POST policies.registration_cancel': {'denied': 'anon dispatcher leader staff staff_other zoneadmin zoneadmin_other '
                                                 'helper_other deptleader_other',
                                       'ok': 'admin bizenv helper deptleader'},
 'POST policies.training_attendance': {'denied': 'anon dispatcher leader staff staff_other zoneadmin zoneadmin_other '
                                                 'helper_other deptleader_other',
                                       'ok': 'admin bizenv helper deptleader'},
 'POST policies.training_create': {'denied': 'anon dispatcher leader staff staff_other zoneadmin zoneadmin_other',
                                   'ok': 'admin bizenv helper helper_other deptleader deptleader_other'},
 'POST policies.training_invite': {'denied': 'anon dispatcher leader staff staff_other zoneadmin zoneadmin_other '
                                             'helper_other deptleader_other',
                                   'ok': 'admin bizenv helper deptleader'},
 'POST policies.training_question': {'denied': 'anon dispatcher leader',
                                     'ok': 'admin bizenv staff staff_other zoneadmin zoneadmin_other helper '
                                           'helper_other deptleader deptleader_other'},
 'POST policies.training_register': {'denied': 'anon',
                                     'ok': 'admin dispatcher bizenv leader staff staff_other zoneadmin '
                                           'zoneadmin_other helper helper_other deptleader deptleader_other'},
 'POST policies.training_status': {'denied': 'anon dispatcher leader staff staff_other zoneadmin zoneadmin_other '
                                             'helper_other deptleader_other',
                                   'ok': 'admin bizenv helper deptleader'},
 'POST policies.training_update': {'denied': 'anon dispatcher leader staff staff_other zoneadmin zoneadmin_other '
                                             'helper_other deptleader_other',
                                   'ok': 'admin bizenv helper deptleader'},
 'POST public.contact_lookup': {'limited': 'helper_other deptleader deptleader_other',
                                'ok': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin '
                                      'zoneadmin_other helper'},
 'POST public.contact_request_submit': {'limited': 'staff staff_other zoneadmin zoneadmin_other helper helper_other '
                                                   'deptleader deptleader_other',
                                        'ok': 'anon admin dispatcher bizenv leader'},
 'POST public.policy_page_applied': {'limited': 'helper_other deptleader deptleader_other',
                                     'ok': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin '
                                           'zoneadmin_other helper'},
 'POST public.policy_page_question': {'limited': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin '
                                                 'zoneadmin_other helper helper_other deptleader deptleader_other'},
 'POST public.policy_page_register': {'limited': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin '
                                                 'zoneadmin_other helper helper_other deptleader deptleader_other'},
 'POST public.survey_submit': {'hidden': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin '
                                         'zoneadmin_other helper',
                               'limited': 'helper_other deptleader deptleader_other'},
 'POST registry.enterprise_update': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin_other '
                                               'helper helper_other deptleader deptleader_other',
                                     'ok': 'admin zoneadmin'},
 'POST registry.import_cancel': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin '
                                           'zoneadmin_other helper helper_other deptleader deptleader_other',
                                 'hidden': 'admin'},
 'POST registry.import_confirm': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin '
                                            'zoneadmin_other helper helper_other deptleader deptleader_other',
                                  'hidden': 'admin'},
 'POST registry.import_upload': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin '
                                           'zoneadmin_other helper helper_other deptleader deptleader_other',
                                 'ok': 'admin'},
 'POST sms.reply': {'hidden': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                              'helper helper_other deptleader deptleader_other'},
 'POST studio.aliases': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                   'helper_other deptleader deptleader_other',
                         'ok': 'admin'},
 'POST studio.dispatch_import': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin '
                                           'zoneadmin_other helper helper_other deptleader deptleader_other',
                                 'ok': 'admin'},
 'POST studio.dispatch_rule_edit': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin '
                                              'zoneadmin_other helper helper_other deptleader deptleader_other',
                                    'ok': 'admin'},
 'POST studio.dispatch_rule_move': {'untested': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin '
                                                'zoneadmin_other helper helper_other deptleader deptleader_other'},
 'POST studio.dispatch_try': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                        'helper helper_other deptleader deptleader_other',
                              'ok': 'admin'},
 'POST studio.forms': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                 'helper_other deptleader deptleader_other',
                       'ok': 'admin'},
 'POST studio.import_yaml': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                       'helper helper_other deptleader deptleader_other',
                             'ok': 'admin'},
 'POST studio.lists': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                 'helper_other deptleader deptleader_other',
                       'ok': 'admin'},
 'POST studio.restore': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other helper '
                                   'helper_other deptleader deptleader_other',
                         'ok': 'admin'},
 'POST studio.template_edit': {'denied': 'anon dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                         'helper helper_other deptleader deptleader_other',
                               'ok': 'admin'},
 'POST wecom.aibot': {'hidden': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                'helper helper_other deptleader deptleader_other'},
 'POST wecom.callback': {'hidden': 'anon admin dispatcher bizenv leader staff staff_other zoneadmin zoneadmin_other '
                                   'helper helper_other deptleader deptleader_other'}}
